// Counts the characters of a field that has data-counter-max, in the element #<id>-counter (read with the
// field, as its description). Crossing the limit, either way, is also said aloud once through a polite live
// region, not at every key. Without script the page works the same: the server refuses a text that is too
// long, with a message at the field.
document.querySelectorAll("[data-counter-max]").forEach(function (field) {
  var counter = document.getElementById(field.id + "-counter");
  if (!counter) return;
  var max = parseInt(field.getAttribute("data-counter-max"), 10);
  var spoken = document.createElement("span");
  spoken.className = "visually-hidden";
  spoken.id = field.id + "-counter-spoken";
  spoken.setAttribute("aria-live", "polite");
  counter.after(spoken);
  var wasOver = null;
  function update() {
    var count = Array.from(field.value).length;
    var over = count - max;
    var text = counter.getAttribute(over > 0 ? "data-over" : "data-text");
    counter.textContent = text.replace("{count}", count).replace("{max}", max).replace("{over}", over);
    counter.classList.toggle("over", over > 0);
    if (wasOver !== null && wasOver !== over > 0) spoken.textContent = counter.textContent;
    wasOver = over > 0;
  }
  counter.hidden = false;
  field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + counter.id).trim());
  field.addEventListener("input", update);
  update();
});
