/* DAZ depth map tab: the live preview path for the cutoffs.
 *
 * The cutoff slider, its number box and the near cutoff are not wired to the server. This file watches them and
 * sends the latest values through the hidden "live request" textbox, one request at a time: while a preview is
 * on its way, further moves only mark the values as changed, and the newest values go out when it arrives. So a
 * drag never builds a queue of stale renders, and the last position is always rendered.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const live = (ns.live = ns.live || {});

    /** A request unanswered this long is sent again (gradio 3 drops a trigger while the same event is pending). */
    const WATCHDOG_MS = 4000;
    /** Latencies kept per tab, for the tests and for curious users (dazDepthmap.live.latencies(prefix)). */
    const KEEP = 200;

    function liveState(prefix) {
        const state = ns.stateOf(prefix);
        if (!state.live) {
            state.live = {
                seq: 0,
                inFlight: 0, // seq of the request on its way, 0 when none
                pending: false,
                changedAt: null, // time of the oldest change not sent yet
                sentAt: {},
                latencies: [],
                watchdog: null,
                lastReply: null,
                sentValues: {}, // seq -> the cutoffs that request carried
                restoring: false, // true while we write the cutoffs in use back into the inputs
            };
        }
        return state.live;
    }

    function requestBox(root) {
        return root.querySelector(".dazdm-live-request textarea, .dazdm-live-request input");
    }

    function send(prefix) {
        const s = liveState(prefix);
        const root = ns.root(prefix);
        if (!root || s.inFlight || !s.pending) {
            return;
        }
        const box = requestBox(root);
        if (!box) {
            console.error("daz_depthmap: the live request box is missing; the preview cannot follow the cutoffs");
            return;
        }
        const cutoffs = ns.cutoffs(root);
        s.seq += 1;
        s.pending = false;
        s.inFlight = s.seq;
        const now = performance.now();
        s.sentAt[s.seq] = { changed: s.changedAt !== null ? s.changedAt : now, sent: now };
        s.sentValues = {};
        s.sentValues[s.seq] = cutoffs;
        s.changedAt = null;
        ns.setInputValue(box, JSON.stringify({ seq: s.seq, far: cutoffs.far, near: cutoffs.near }));
        clearTimeout(s.watchdog);
        s.watchdog = setTimeout(function () {
            // no answer: either a slow render (the resend is then dropped by gradio as a duplicate) or a lost one
            s.inFlight = 0;
            s.pending = true;
            send(prefix);
        }, WATCHDOG_MS);
    }

    /** Note that a cutoff changed; the values are read from the inputs when the request goes out. */
    live.changed = function (prefix) {
        const s = liveState(prefix);
        s.pending = true;
        if (s.changedAt === null) {
            s.changedAt = performance.now();
        }
        // after gradio's own handlers have copied the value between the slider and its number box
        setTimeout(function () {
            send(prefix);
        }, 0);
    };

    /** Called (through the hidden "live done" textbox) when the server has answered a live request. */
    live.done = function (prefix, text) {
        const s = liveState(prefix);
        let reply;
        try {
            reply = JSON.parse(text || "{}");
        } catch (error) {
            return [];
        }
        if (reply.seq === undefined || reply.seq === null) {
            return [];
        }
        const times = s.sentAt[reply.seq];
        delete s.sentAt[reply.seq];
        if (times !== undefined) {
            const now = performance.now();
            s.latencies.push({
                seq: reply.seq,
                ms: now - times.changed,
                round_trip_ms: now - times.sent,
                server_ms: reply.ms,
            });
            if (s.latencies.length > KEEP) {
                s.latencies.shift();
            }
        }
        s.lastReply = reply;
        const sent = s.sentValues[reply.seq];
        delete s.sentValues[reply.seq];
        if (reply.error && reply.far !== undefined && sent && !s.pending) {
            restore(prefix, sent, reply);
        }
        // any answer frees the path: at most one request is on its way, or a resend that gradio dropped
        s.inFlight = 0;
        clearTimeout(s.watchdog);
        if (ns.histogram && ns.histogram.liveReply) {
            ns.histogram.liveReply(prefix, reply);
        }
        // gradio still counts the event as pending while it hands us its output, and would drop a trigger now
        setTimeout(function () {
            send(prefix);
        }, 0);
        return [];
    };

    function sameValue(a, b) {
        return a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)));
    }

    /**
     * The server refused the cutoffs of a request (a near cutoff beyond the far one) and kept the previous ones:
     * show those again, so what the inputs say is what Save writes. Only when the inputs still hold the refused
     * values (a drag that moved on will send newer ones anyway); writing them back sends no new request.
     */
    function restore(prefix, sent, reply) {
        const root = ns.root(prefix);
        if (!root) {
            return;
        }
        const shown = ns.cutoffs(root);
        if (!sameValue(shown.far, sent.far) || !sameValue(shown.near, sent.near)) {
            return;
        }
        const s = liveState(prefix);
        s.restoring = true;
        try {
            if (!sameValue(shown.far, reply.far)) {
                live.setFar(prefix, reply.far);
            }
            if (!sameValue(shown.near, reply.near === undefined ? null : reply.near)) {
                live.setNear(prefix, reply.near);
            }
        } finally {
            s.restoring = false;
        }
    }

    /** Set the far cutoff (from the histogram, a picked pixel or the suggestion) as if typed in its box. */
    live.setFar = function (prefix, value) {
        const root = ns.root(prefix);
        if (!root || value === null || value === undefined || !Number.isFinite(Number(value))) {
            return [];
        }
        const inputs = ns.cutoffInputs(root);
        if (inputs.number) {
            ns.setInputValue(inputs.number, String(Number(value)));
        } else if (inputs.range) {
            ns.setInputValue(inputs.range, String(Number(value)));
        }
        return [];
    };

    /** Set the near cutoff; an empty value means "the nearest depth". */
    live.setNear = function (prefix, value) {
        const root = ns.root(prefix);
        const inputs = root ? ns.cutoffInputs(root) : {};
        if (inputs.near) {
            const empty = value === null || value === undefined || value === "";
            ns.setInputValue(inputs.near, empty ? "" : String(Number(value)));
        }
        return [];
    };

    /** Latencies so far: [{seq, ms: first unsent change to preview, round_trip_ms: request to preview, server_ms}]. */
    live.latencies = function (prefix) {
        return liveState(prefix).latencies.slice();
    };

    /** True while a preview request is on its way or a change waits to be sent. */
    live.busy = function (prefix) {
        const s = liveState(prefix);
        return Boolean(s.inFlight || s.pending);
    };

    /** A new file view from the server resets the request bookkeeping (its slider values are already shown). */
    live.reset = function (prefix) {
        const s = liveState(prefix);
        s.pending = false;
        s.changedAt = null;
    };

    ns.concerns.push(function setupLive(root) {
        const prefix = root.id;
        root.addEventListener("input", function (event) {
            const target = event.target;
            const cutoff = target && target.closest && target.closest(".dazdm-cutoff, .dazdm-near");
            if (cutoff && !liveState(prefix).restoring) {
                live.changed(prefix);
            }
        });
    });
})();
