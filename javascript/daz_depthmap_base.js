/* DAZ depth map tab: the namespace, the tab roots, and the events the other files talk through.
 *
 * Works in the AUTOMATIC1111 WebUI (which provides gradioApp() and onUiLoaded() from its script.js) and in the
 * standalone app (which does not: small fallbacks below). Every other daz_depthmap_*.js file registers a setup
 * function in dazDepthmap.concerns; each runs once per tab root (an element with class "dazdm-root"). The files
 * never call each other's functions: they dispatch and listen to events on the tab root —
 *   dazdm:view       {detail: view}        a new file view from the server (histogram data, key, view number)
 *   dazdm:set-cutoff {detail: {which, value}}  someone (histogram, a picked pixel, the suggestion) sets a cutoff
 *   dazdm:cutoffs    {}                     the cutoff inputs changed (typing, dragging, or a set-cutoff)
 *   dazdm:reply      {detail: reply}        the server answered a live request
 *   dazdm:pointer    {detail: {hover, dragging}}  the pointer over the histogram (x in CSS pixels, or null)
 *   dazdm:split-add  {detail: {depth}}      add a split between bands here (histogram -> band panel)
 *   dazdm:split-move {detail: {index, depth}}  move a split (histogram -> band panel)
 *   dazdm:bands      {detail: plan}         the band plan shown changed (redraw)
 *   dazdm:bands-edit {detail: plan}         the user edited the bands: the live path sends them
 *   dazdm:live-request {detail: {request, taken}}  the live path offers a request to the preview route
 *   dazdm:route-reply  {detail: reply}      the preview route answered (its pictures are drawn)
 *   dazdm:route-failed {detail: request}    the route could not serve it: the live path sends it through gradio
 * They share the pure models (dazDepthmap.histogramModel, bandModel) and read each other's state through
 * dazDepthmap.stateOf(prefix) (the live path sends the band panel's plan). gradio's client functions (the `_js` of
 * events) enter through dazDepthmap.fileView / setCutoff / live.done, and the WebUI's send steps through
 * dazDepthmap.send (daz_depthmap_send.js). No file defines any other global than window.dazDepthmap.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    ns.state = ns.state || {};

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

    /** Per-root state object, kept across redraws and server updates. */
    ns.stateOf = function (prefix) {
        if (!ns.state[prefix]) {
            ns.state[prefix] = { view: null };
        }
        return ns.state[prefix];
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
        ns.stateOf(prefix).view = view;
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
        Object.keys(ns.state).forEach(function (prefix) {
            const view = ns.state[prefix].view;
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
