// Site-wide behaviour, no framework: destructive forms ask first (data-confirm="question").
document.addEventListener(
  "submit",
  (event) => {
    const question = event.target.dataset ? event.target.dataset.confirm : undefined;
    if (question && !window.confirm(question)) event.preventDefault();
  },
  true,
);

// A boosted form (hx-boost: the submission form, which swaps in the next page instead of loading
// it, so the browser does not rebuild the page on the cores grading the model) shows whatever
// page the server answers, as a plain form would: a refusal (400) with its reasons included.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.boosted && event.detail.xhr.status >= 400) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
