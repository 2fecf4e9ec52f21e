/* DAZ depth map tab: the namespace, the tab roots, and the events the other files talk through.
 *
 * Works in the AUTOMATIC1111 WebUI (which provides gradioApp() and onUiLoaded() from its script.js) and in the
 * standalone app (which does not: small fallbacks below). Every other daz_depthmap_*.js file registers a setup
 * function in dazDepthmap.concerns; each runs once per tab root (an element with class "dazdm-root"). The files
 * never call each other's functions: they dispatch and listen to events on the tab root —
 *   dazdm:view       {detail: view}        a new file view from the server (histogram data, key, view number)
 *   dazdm:set-cutoff {detail: {which, value}}  someone (histogram, a picked pixel, the suggestion) sets a cutoff
 *   dazdm:cutoffs    {}                     the cutoff inputs changed (typing, dragging, or a set-cutoff)
 *   dazdm:reply      {detail: {reply, superseded}}  the server answered a live request; superseded: newer values
 *                                          wait to be sent (the band panel keeps its plan until their answer)
 *   dazdm:pointer    {detail: {hover, dragging}}  the pointer over the histogram (x in CSS pixels, or null)
 *   dazdm:split-add  {detail: {depth}}      add a split between bands here (histogram -> band panel)
 *   dazdm:split-move {detail: {index, depth}}  move a split (histogram -> band panel)
 *   dazdm:bands      {detail: plan}         the band plan shown changed (or null: none): redraw, send this one
 *   dazdm:bands-edit {detail: {plan, suggest}}  the user edited the bands: the live path sends them (suggest:
 *                                          ask the server once for suggested bands)
 *   dazdm:add-mode   {detail: {on}}        the band panel's Add split mode: the histogram's next click adds a split
 *   dazdm:live-request {detail: {request, taken}}  the live path offers a request to the preview route
 *   dazdm:route-reply  {detail: reply}      the preview route answered (its pictures are drawn)
 *   dazdm:route-failed {detail: request}    the route could not serve it: the live path sends it through gradio
 *
 * Each piece of a tab's state has one owner, the file that keeps it to itself (in a Map keyed by the tab's prefix,
 * or in its setup's closure); the others learn it from the events above (keeping their own copy of what an event
 * told them), or read it through the owner's read-only accessor:
 *   base (this file)   the file view shown — dazDepthmap.viewOf(prefix), read where it is needed at once (a click,
 *                      a request, a drawing set up after the view came); do not change the object it returns
 *   bands              the band plan shown and edited, the Add split mode, what the last Suggest bands said ("No
 *                      gaps found" until an edit or another file), the panel's limits (the most levels and
 *                      the highest region number, from the panel's data-total-levels / data-max-region, which
 *                      the server writes) — dazDepthmap.bandPanel.plan(prefix) (a copy, for tests and tools)
 *   live               the live requests (sequence, in flight, changed values, latencies, the last answer) and the
 *                      band plan they carry — dazDepthmap.live.busy / latencies / status(prefix)
 *   histogram draw     the hover line, the last answer's caption, the labels and ticks drawn —
 *                      dazDepthmap.histogramDraw.drawn(prefix) (for tests and tools)
 *   histogram input    the drag under way (its copies of the band plan and the Add split mode)
 *   preview route      whether the route is there, the pictures' blob URLs, the newest picture drawn
 *   names              nothing: it gives gradio's components tooltips once, at setup
 * They share the pure models (dazDepthmap.histogramModel, bandModel). gradio's client functions (the `_js` of
 * events) enter through dazDepthmap.fileView / setCutoff / live.done, and the WebUI's send steps through
 * dazDepthmap.send (daz_depthmap_send.js). No file defines any other global than window.dazDepthmap.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];

    /** prefix -> the file view shown (this file's own: the others read it through viewOf). */
    const views = new Map();

    /** The document or shadow root that holds the gradio app. */
    ns.app = function () {
        if (typeof window.gradioApp === "function") {
            return window.gradioApp();
        }
        const elem = document.querySelector("gradio-app");
        return elem ? elem.shadowRoot || elem : document;
    };

    /** The tab root whose elem_id is `prefix`. */
    ns.root = function (prefix) {
        return ns.app().querySelector("#" + CSS.escape(prefix));
    };

    /** The file view the tab `prefix` shows (null before the first one). Read only: every file gets the same. */
    ns.viewOf = function (prefix) {
        const view = views.get(prefix);
        return view === undefined ? null : view;
    };

    /** Dispatch one of the tab's events on its root. */
    ns.emit = function (prefix, name, detail) {
        const root = ns.root(prefix);
        if (root) {
            root.dispatchEvent(new CustomEvent(name, { detail: detail }));
        }
    };

    /** Set an input's value and send the event gradio's components listen to. */
    ns.setInputValue = function (input, value) {
        input.value = value;
        input.dispatchEvent(new Event("input", { bubbles: true }));
    };

    /** A finite number from an input, or null when it is empty or not a number. */
    ns.readNumber = function (input) {
        if (!input || input.value === "") {
            return null;
        }
        const value = parseFloat(input.value);
        return Number.isFinite(value) ? value : null;
    };

    /** The far cutoff inputs (the slider's range and its number box) and the near cutoff input of a root. */
    ns.cutoffInputs = function (root) {
        const far = root.querySelector(".dazdm-cutoff");
        const near = root.querySelector(".dazdm-near");
        return {
            range: far ? far.querySelector("input[type=range]") : null,
            number: far ? far.querySelector("input[type=number]") : null,
            near: near ? near.querySelector("input") : null,
        };
    };

    /** Current far and near cutoffs as the inputs show them (near: null when empty). */
    ns.cutoffs = function (root) {
        const inputs = ns.cutoffInputs(root);
        const far = ns.readNumber(inputs.number);
        return {
            far: far !== null ? far : ns.readNumber(inputs.range),
            near: ns.readNumber(inputs.near),
        };
    };

    /** Short text for a depth value: enough digits for scene units, no exponent for ordinary values. */
    ns.formatDepth = function (value) {
        if (value === null || value === undefined || !Number.isFinite(value)) {
            return "–";
        }
        const abs = Math.abs(value);
        if (abs >= 1e-3 && abs < 1e6) {
            return String(parseFloat(value.toPrecision(6)));
        }
        return value.toExponential(3);
    };

    /** gradio: the server sent a new file view (JSON text of the hidden "histogram data" box). */
    ns.fileView = function (prefix, text) {
        let view = null;
        try {
            view = JSON.parse(text || "null");
        } catch (error) {
            view = null;
        }
        views.set(prefix, view);
        ns.emit(prefix, "dazdm:view", view);
        return [];
    };

    /** gradio: a button sets a cutoff (`which`: "far" or "near") to `value`. */
    ns.setCutoff = function (prefix, which, value) {
        ns.emit(prefix, "dazdm:set-cutoff", { which: which, value: value });
        return [];
    };

    /** A closed page releases its sessions on the server at once (their files are of no use to anyone now). */
    function releaseSessions(event) {
        if (event.persisted || !navigator.sendBeacon) {
            return; // kept for the back button: the server releases it later, when unused for long
        }
        views.forEach(function (view) {
            if (view && view.session) {
                const path = "daz-depthmap/v1/sessions/" + encodeURIComponent(view.session) + "/release";
                navigator.sendBeacon(new URL(path, document.baseURI));
            }
        });
    }

    function setupRoots() {
        const roots = ns.app().querySelectorAll(".dazdm-root:not([data-dazdm-ready])");
        roots.forEach(function (root) {
            root.dataset.dazdmReady = "1";
            ns.concerns.forEach(function (setup) {
                try {
                    setup(root);
                } catch (error) {
                    console.error("daz_depthmap: setup failed", error);
                }
            });
        });
        return roots.length;
    }

    /** Standalone page: no onUiLoaded, so watch the DOM until gradio has rendered the tab. */
    function watchForRoots() {
        if (setupRoots()) {
            return;
        }
        let scheduled = false;
        const observer = new MutationObserver(function () {
            if (scheduled) {
                return;
            }
            scheduled = true;
            requestAnimationFrame(function () {
                scheduled = false;
                if (setupRoots()) {
                    observer.disconnect();
                }
            });
        });
        observer.observe(document.body, { childList: true, subtree: true });
    }

    if (!ns.started) {
        ns.started = true;
        window.addEventListener("pagehide", releaseSessions);
        if (typeof window.onUiLoaded === "function") {
            window.onUiLoaded(watchForRoots);
        } else if (document.readyState === "loading") {
            document.addEventListener("DOMContentLoaded", watchForRoots);
        } else {
            watchForRoots();
        }
    }
})();
