// Counts the characters of a field that has data-counter-max, in the element #<id>-counter (spoken politely).
// Without script the page works the same: the server refuses a title that is too long, with a message at the field.
document.querySelectorAll("[data-counter-max]").forEach(function (field) {
  var counter = document.getElementById(field.id + "-counter");
  if (!counter) return;
  var max = parseInt(field.getAttribute("data-counter-max"), 10);
  function update() {
    var count = Array.from(field.value).length;
    var over = count - max;
    var text = counter.getAttribute(over > 0 ? "data-over" : "data-text");
    counter.textContent = text.replace("{count}", count).replace("{max}", max).replace("{over}", over);
    counter.classList.toggle("over", over > 0);
  }
  counter.hidden = false;
  field.setAttribute("aria-describedby", ((field.getAttribute("aria-describedby") || "") + " " + counter.id).trim());
  field.addEventListener("input", update);
  update();
});
