// The one script: a header checkbox that selects every row checkbox of its name (bulk "mark reviewed").
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  const name = all.getAttribute("data-select-all");
  for (const box of document.querySelectorAll(`input[type=checkbox][name="${name}"]`)) box.checked = all.checked;
});
