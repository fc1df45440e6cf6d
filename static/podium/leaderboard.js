// Accuracy-vs-parameters scatter with the Pareto front (fewer params, higher score) as a line.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("points");
  if (!el || typeof Chart === "undefined") return;
  const points = JSON.parse(el.textContent);
  const front = points.filter((p) => p.pareto).sort((a, b) => a.x - b.x);
  new Chart(document.getElementById("pareto"), {
    type: "scatter",
    data: {
      datasets: [
        { label: "entries", data: points.filter((p) => !p.baseline), backgroundColor: "#3366cc" },
        { label: "baselines", data: points.filter((p) => p.baseline), backgroundColor: "#999999", pointStyle: "rectRot", radius: 6 },
        { label: "Pareto front", data: front, type: "line", borderColor: "#dc3912", pointRadius: 0, fill: false, stepped: "before" },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { type: "logarithmic", title: { display: true, text: "parameters (log)" } }, y: { title: { display: true, text: "score" } } },
      plugins: {
        tooltip: {
          // The front's line passes through the same points: one tooltip line per entry, not two.
          filter: (item) => item.dataset.type !== "line",
          callbacks: { label: (c) => `${c.raw.name}: ${c.raw.y.toFixed(4)} (${c.raw.x.toLocaleString("en-US")} params)` },
        },
      },
    },
  });
});

// After the close: public rank against private rank, one point per entrant (diagonal: no move).
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("shakeup");
  if (!el || typeof Chart === "undefined") return;
  const points = JSON.parse(el.textContent);
  const n = Math.max(1, ...points.map((p) => Math.max(p.x, p.y)));
  new Chart(document.getElementById("shakeup-chart"), {
    type: "scatter",
    data: {
      datasets: [
        { label: "entrants", data: points, backgroundColor: points.map((p) => (p.x > p.y ? "#17803d" : p.x < p.y ? "#b42318" : "#3366cc")) },
        { label: "no move", data: [{ x: 1, y: 1 }, { x: n, y: n }], type: "line", borderColor: "#999999", pointRadius: 0, fill: false },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { reverse: false, min: 1, max: n, title: { display: true, text: "public rank" } },
        y: { reverse: true, min: 1, max: n, title: { display: true, text: "private (final) rank" } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => (c.raw.name ? `${c.raw.name}: #${c.raw.x} → #${c.raw.y} (${c.raw.score_change >= 0 ? "+" : ""}${c.raw.score_change.toFixed(4)})` : "") } } },
    },
  });
});
