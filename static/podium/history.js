// Scores over time on the competition page: the top-k lines (stepped) and the viewer's own
// submissions (points). x is milliseconds since the epoch, shown as local date and time.
document.addEventListener("DOMContentLoaded", () => {
  const top = document.getElementById("history-top");
  const mine = document.getElementById("history-mine");
  const canvas = document.getElementById("history-chart");
  if (!top || !canvas || typeof Chart === "undefined") return;
  const colors = ["#dc3912", "#ff9900", "#109618"];
  const xy = (points) => points.map((p) => ({ x: p.t, y: p.y }));
  const datasets = JSON.parse(top.textContent).map((line, i) => ({
    label: `#${i + 1}`, data: xy(line), type: "line", stepped: "before", borderColor: colors[i % colors.length], pointRadius: 0, fill: false,
  }));
  const own = mine ? JSON.parse(mine.textContent) : [];
  if (own.length) datasets.push({ label: "your submissions", data: xy(own), backgroundColor: "#3366cc" });
  new Chart(canvas, {
    type: "scatter",
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { ticks: { callback: (v) => new Date(v).toLocaleString() }, title: { display: true, text: "time" } },
        y: { title: { display: true, text: "public score" } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => `${new Date(c.raw.x).toLocaleString()}: ${c.raw.y.toFixed(4)}` } } },
    },
  });
});
