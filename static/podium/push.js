// Server push. The element with data-events="<url>" opens an EventSource (views/streams.py);
// an event that carries HTML (the submission's status block) is swapped in for the element of
// the same id at once; any other "changed" event fires "podium-changed" on <body>, which the
// htmx parts of the page listen to (hx-trigger="podium-changed from:body") and refresh
// themselves on. When the stream cannot be held (the server answers 204 under WSGI, no
// EventSource, repeated errors), the same event fires every data-poll-ms instead: plain
// polling. A finished submission ([data-done]) stops both.
(function () {
  function start() {
    const el = document.querySelector("[data-events]");
    if (!el) return;
    const fire = () => document.body.dispatchEvent(new Event("podium-changed"));
    let poll = null;
    let source = null;
    let errors = 0;
    const stop = () => {
      if (source) source.close();
      if (poll) clearInterval(poll);
    };
    const fallback = () => {
      if (source) source.close();
      if (!poll) poll = setInterval(fire, Number(el.dataset.pollMs || 1000));
    };
    document.body.addEventListener("htmx:afterSettle", () => {
      if (document.querySelector("[data-done]")) stop();
    });
    // Back to the page before (restored from htmx's history): this page's stream ends.
    document.body.addEventListener("htmx:historyRestore", stop, { once: true });
    if (!window.EventSource) return fallback();
    source = new EventSource(el.dataset.events);
    source.addEventListener("open", () => { errors = 0; document.body.dataset.push = "open"; });
    source.addEventListener("changed", (e) => {
      // The event sent on opening covers what changed before the stream was there; the
      // leaderboard was just rendered, so only pages that ask (data-refresh-on-open) use it.
      if (e.data === "open" && !("refreshOnOpen" in el.dataset)) return;
      const id = /^<[^>]*?\sid="([^"]+)"/.exec(e.data);
      const target = id && window.htmx ? document.getElementById(id[1]) : null;
      if (target) return htmx.swap(target, e.data, { swapStyle: "outerHTML" });
      fire();
    });
    source.onerror = () => {
      errors += 1;
      if (source.readyState === EventSource.CLOSED || errors > 3) {
        document.body.dataset.push = "polling";
        fallback();
      }
    };
  }
  // Loaded with the page, or swapped in by a boosted form after the page had loaded.
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
