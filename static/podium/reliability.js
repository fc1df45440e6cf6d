// Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration.
// Drawn on load and again when the status block is swapped in (the score arrives by htmx).
function drawReliability() {
  const el = document.getElementById("reliability");
  const canvas = document.getElementById("reliability-chart");
  if (!el || !canvas || canvas.dataset.drawn || typeof Chart === "undefined") return;
  canvas.dataset.drawn = "1";
  const bins = JSON.parse(el.textContent);
  new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: [
        {
          label: "accuracy of the bin",
          data: bins.map((b) => ({ x: b.confidence, y: b.accuracy, count: b.count })),
          backgroundColor: "#3366cc",
          pointRadius: bins.map((b) => 3 + Math.min(8, Math.log2(1 + b.count))),
        },
        { label: "perfect calibration", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], type: "line", borderColor: "#999999", pointRadius: 0, fill: false },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { min: 0, max: 1, title: { display: true, text: "confidence" } }, y: { min: 0, max: 1, title: { display: true, text: "accuracy" } } },
      plugins: { tooltip: { callbacks: { label: (c) => (c.raw.count ? `confidence ${c.raw.x.toFixed(3)}: accuracy ${c.raw.y.toFixed(3)} (${c.raw.count} images)` : "") } } },
    },
  });
}
document.addEventListener("DOMContentLoaded", drawReliability);
document.addEventListener("htmx:afterSettle", drawReliability);
