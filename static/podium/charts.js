// The instructors' participation charts: submissions per day (bars) and one entrant's public
// score over time with the best so far (a step line). Data from json_script elements.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Chart === "undefined") return;
  const data = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const common = { animation: false, maintainAspectRatio: false, plugins: { legend: { display: true } } };
  const perDay = data("per-day-data");
  if (perDay && perDay.length) {
    new Chart(document.getElementById("per-day"), {
      type: "bar",
      data: { labels: perDay.map((p) => p.x), datasets: [{ label: "submissions", data: perDay.map((p) => p.y), backgroundColor: "#2a5db0" }] },
      options: { ...common, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }
  const progress = data("progress-data");
  if (progress && progress.length) {
    new Chart(document.getElementById("progress"), {
      type: "line",
      data: {
        labels: progress.map((p) => p.x.slice(0, 16).replace("T", " ")),
        datasets: [
          { label: "public score", data: progress.map((p) => p.y), showLine: false, backgroundColor: "#2a5db0", pointRadius: 4 },
          { label: "best so far", data: progress.map((p) => p.best), stepped: "before", borderColor: "#17803d", pointRadius: 0 },
        ],
      },
      options: common,
    });
  }
});
