// When the decision chosen changes, the justification follows its answer template, unless
// something was typed there already. Without JavaScript the first decision's template stays.
document.querySelectorAll("textarea[data-answer-templates]").forEach(function (note) {
  var templates = JSON.parse(note.dataset.answerTemplates);
  var select = document.getElementById(note.dataset.templateFor);
  if (!select) return;
  select.addEventListener("change", function () {
    var untouched = Object.values(templates).indexOf(note.value) !== -1 || note.value.trim() === "";
    if (untouched) note.value = templates[select.value] || "";
  });
});
