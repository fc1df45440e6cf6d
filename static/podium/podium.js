// Site-wide behaviour, no framework: destructive forms ask first (data-confirm="question").
document.addEventListener(
  "submit",
  (event) => {
    const question = event.target.dataset ? event.target.dataset.confirm : undefined;
    if (question && !window.confirm(question)) event.preventDefault();
  },
  true,
);
