// Reliability diagram: accuracy per confidence bin against the diagonal of perfect calibration.
// Drawn on load and again when the status block is swapped in (the score arrives by htmx).
// Chart.js is fetched only once there is a diagram to draw: a page waiting for its score does
// not parse 200 kB of script while the model is being graded on the same machine.
function drawReliability() {
  const el = document.getElementById("reliability");
  const canvas = document.getElementById("reliability-chart");
  if (!el || !canvas || canvas.dataset.drawn) return;
  if (typeof Chart === "undefined") {
    if (!document.getElementById("chart-js") && canvas.dataset.chartSrc) {
      const script = document.createElement("script");
      script.id = "chart-js";
      script.src = canvas.dataset.chartSrc;
      script.onload = drawReliability;
      document.head.appendChild(script);
    }
    return;
  }
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
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawReliability);
else drawReliability(); // swapped in by a boosted form
document.addEventListener("htmx:afterSettle", drawReliability);
