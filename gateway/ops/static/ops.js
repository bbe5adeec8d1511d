// The operations dashboard: renders each snapshot the gateway pushes over SSE (/ops/stream).
// Every value is written with textContent or as an SVG attribute, never as HTML, so nothing a
// webhook sender put in a dead letter can become markup or script (the page's CSP forbids
// inline script besides). The session cookie is HttpOnly: this script never sees it; it
// sends the page's CSRF token with the replay requests it makes.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const csrfToken = document.querySelector('meta[name="ops-csrf"]').content;
  const replayOutcomes = new Map();
  let source = null;

  function $(id) {
    return document.getElementById(id);
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    }
    return node;
  }

  function cell(text, figure) {
    return element("td", figure ? { "data-figure": figure } : {}, text);
  }

  function fill(tbody, rows, empty, columns) {
    tbody.replaceChildren(...rows);
    if (!rows.length) {
      tbody.append(element("tr", { class: "empty" }, element("td", { colspan: columns }, empty)));
    }
  }

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return date.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function renderHealth(health) {
    if (!health) return;
    const overall = $("overall");
    overall.textContent = health.status;
    overall.dataset.state = health.status;
    const rows = Object.entries(health.backends).map(([name, backend]) =>
      element(
        "tr",
        { "data-backend": name, "data-state": backend.state },
        cell(name),
        cell(backend.state, "state"),
        cell(backend.breaker, "breaker"),
        cell(backend.consecutive_failures ?? "", "consecutive-failures"),
        cell(backend.opened_count ?? "", "opened"),
        cell(backend.rejected_calls ?? "", "rejected-calls"),
        cell(backend.retry_in_s === null || backend.retry_in_s === undefined ? "" : `${backend.retry_in_s} s`),
      ),
    );
    fill($("backends"), rows, "no backends configured", 7);
    const parts = [];
    for (const [kind, components] of [["stores", health.stores], ["subgraphs", health.subgraphs]]) {
      const down = Object.entries(components).filter(([, c]) => c.state !== "ok").map(([n]) => n);
      parts.push(`${Object.keys(components).length} ${kind}` + (down.length ? ` (down: ${down.join(", ")})` : ", all answering"));
    }
    $("components").textContent = parts.join("; ");
  }

  function chart(container, minutes, seriesBySource, unit) {
    const width = 560;
    const height = 150;
    const pad = { left: 44, right: 8, top: 8, bottom: 20 };
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    const sources = Object.keys(seriesBySource);
    let top = 0;
    for (const values of Object.values(seriesBySource)) top = Math.max(top, ...values);
    top = top > 0 ? top : 1;
    const x = (i) => pad.left + (i * (width - pad.left - pad.right)) / Math.max(1, minutes.length - 1);
    const y = (v) => height - pad.bottom - (v * (height - pad.top - pad.bottom)) / top;
    const axis = document.createElementNS(SVG, "path");
    axis.setAttribute("d", `M${pad.left},${pad.top} V${height - pad.bottom} H${width - pad.right}`);
    axis.setAttribute("class", "axis");
    svg.append(axis);
    const labels = [
      [pad.left - 4, pad.top + 8, "end", `${Math.round(top * 100) / 100}${unit}`],
      [pad.left - 4, height - pad.bottom, "end", "0"],
      [pad.left, height - 4, "start", "−60 min"],
      [width - pad.right, height - 4, "end", "now"],
    ];
    for (const [lx, ly, anchor, text] of labels) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", lx);
      label.setAttribute("y", ly);
      label.setAttribute("text-anchor", anchor);
      label.textContent = text;
      svg.append(label);
    }
    sources.forEach((name, index) => {
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", seriesBySource[name].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
      line.setAttribute("class", `series series-${index % 6}`);
      line.setAttribute("data-source", name);
      svg.append(line);
    });
    const legend = element("p", { class: "legend" });
    sources.forEach((name, index) => legend.append(element("span", { class: `key series-${index % 6}` }, name)));
    if (!sources.length) legend.append("no events applied by this process in the last hour");
    container.replaceChildren(svg, legend);
  }

  function renderEvents(events) {
    const applied = {};
    const lag = {};
    const rows = [];
    for (const [name, flow] of Object.entries(events.sources)) {
      applied[name] = flow.applied;
      lag[name] = flow.lag_max_s;
      const lastMean = [...flow.lag_mean_s].reverse().find((_, i, all) => flow.applied[all.length - 1 - i] > 0) ?? 0;
      rows.push(
        element(
          "tr",
          { "data-source": name },
          cell(name),
          cell(flow.applied_last_hour, "applied"),
          cell(flow.lag_max_last_hour_s, "lag-max"),
          cell(lastMean, "lag-mean"),
        ),
      );
    }
    chart($("throughput-chart"), events.minutes, applied, "");
    chart($("lag-chart"), events.minutes, lag, " s");
    fill($("event-totals"), rows, "no events applied by this process in the last hour", 4);
  }

  function renderFigures(figures) {
    if (!figures) return;
    let total = 0;
    const rows = figures.dead_letters.map((entry) => {
      total += entry.count;
      return element(
        "tr",
        { "data-source": entry.source, "data-reason": entry.reason },
        cell(entry.source),
        cell(entry.reason),
        cell(entry.count, "count"),
      );
    });
    fill($("dead-letter-counts"), rows, "none waiting", 3);
    $("dead-letter-total").textContent = String(total);
    $("dead-letter-total").dataset.figure = "dead-letters-waiting";
    let stuck = 0;
    for (const entry of figures.stuck_workflows) stuck += entry.count;
    $("stuck-total").textContent = String(stuck);
    const held = figures.held_invoices;
    const byKind = figures.stuck_workflows.map((e) => `${e.kind} ${e.state}: ${e.count}`).join(", ");
    $("workflow-figures").replaceChildren(
      element("span", { "data-figure": "stuck-workflows" }, String(stuck)),
      ` stuck${byKind ? ` (${byKind})` : ""}; invoices held: `,
      element("span", { "data-figure": "held-invoices" }, String((held.HELD || 0) + (held.WAITING || 0))),
      "; quiet shipments: ",
      element("span", { "data-figure": "quiet-shipments" }, String(figures.quiet_shipments)),
    );
  }

  async function replay(letterId, button) {
    button.disabled = true;
    replayOutcomes.set(letterId, "replaying…");
    renderOutcome(letterId);
    let text;
    try {
      const response = await fetch(`/ops/dead-letters/${encodeURIComponent(letterId)}/replay`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken },
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        text = `accepted ${body.accepted} (${body.new} new)`;
      } else {
        text = `${response.status} ${body.error || ""}: ${body.message || ""}`;
      }
    } catch (error) {
      text = `not sent: ${error}`;
    }
    replayOutcomes.set(letterId, text);
    renderOutcome(letterId);
    button.disabled = false;
  }

  function renderOutcome(letterId) {
    const row = document.querySelector(`tr[data-letter-id="${CSS.escape(letterId)}"]`);
    if (row) row.querySelector('[data-figure="outcome"]').textContent = replayOutcomes.get(letterId) || "";
  }

  function renderLetters(section) {
    if (!section) return;
    const rows = section.recent.map((letter) => {
      const button = element("button", { type: "button", class: "replay" }, "Replay");
      button.addEventListener("click", () => replay(letter.id, button));
      const outcome = replayOutcomes.get(letter.id) || (letter.replay_outcome ? `${letter.replay_outcome} (${when(letter.replayed_at)})` : "");
      return element(
        "tr",
        { "data-letter-id": letter.id, "data-source": letter.source },
        cell(when(letter.received_at)),
        cell(letter.source),
        cell(letter.reason, "reason"),
        cell(letter.size),
        element("td", {}, button),
        cell(outcome, "outcome"),
      );
    });
    fill($("dead-letter-list"), rows, "no dead letters", 6);
  }

  function renderReconciliation(section) {
    if (!section) return;
    const summary = $("reconciliation-summary");
    if (!section.run) {
      summary.textContent = "No reconciliation has run yet.";
      fill($("variances"), [], "", 5);
      return;
    }
    const run = section.run;
    summary.replaceChildren(
      `Run ${run.id} finished ${when(run.finished_at)}: `,
      element("span", { "data-figure": "compared" }, String(run.compared)),
      " pairs compared, ",
      element("span", { "data-figure": "variances" }, String(run.variances)),
      " variances" + (run.variances > section.variances.length ? ` (first ${section.variances.length} listed)` : ""),
    );
    const rows = section.variances.map((v) =>
      element(
        "tr",
        { "data-warehouse": v.warehouse_id, "data-sku": v.sku },
        cell(v.warehouse_id),
        cell(v.sku),
        cell(`${v.erp_quantity} ${v.unit}`),
        cell(`${v.wms_quantity} ${v.unit}`),
        cell(v.difference, "difference"),
      ),
    );
    fill($("variances"), rows, "no variances", 5);
  }

  function renderWorkflows(section) {
    if (!section) return;
    const rows = section.stuck.map((w) =>
      element(
        "tr",
        { "data-workflow-id": w.id },
        cell(w.id),
        cell(w.kind),
        cell(w.state, "state"),
        cell(w.reason || ""),
        cell(when(w.updated_at)),
      ),
    );
    fill($("stuck-workflows"), rows, `none has stood still for ${section.stuck_after_s} s`, 5);
  }

  function renderClients(clients) {
    const rows = clients.map((c) =>
      element(
        "tr",
        { "data-client": c.client_id },
        cell(c.client_id),
        cell(c.tenant_id),
        cell(c.per_minute, "per-minute"),
        cell(c.requests_last_hour, "requests"),
        cell(c.rejections_last_hour, "rejections"),
      ),
    );
    fill($("top-clients"), rows, "no requests in the last hour", 5);
  }

  function render(snapshot) {
    $("generated-at").textContent = `as of ${when(snapshot.generated_at)}`;
    $("process").textContent = `process ${snapshot.process}`;
    renderHealth(snapshot.health);
    renderEvents(snapshot.events);
    renderFigures(snapshot.figures);
    renderLetters(snapshot.dead_letters);
    renderReconciliation(snapshot.reconciliation);
    renderWorkflows(snapshot.workflows);
    renderClients(snapshot.clients);
    document.body.dataset.version = String(Number(document.body.dataset.version || 0) + 1);
    if (snapshot.unavailable && snapshot.unavailable.length) {
      setStatus("partial", `live; unavailable: ${snapshot.unavailable.join(", ")}`);
    } else {
      setStatus("live", "live");
    }
  }

  function connect() {
    source = new EventSource("/ops/stream");
    source.addEventListener("snapshot", (event) => render(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        setStatus("ended", "disconnected: the session may have ended; reload to sign in");
      } else {
        setStatus("reconnecting", "reconnecting…");
      }
    });
  }

  connect();
})();
