/* DAZ depth map tab: the live preview path for the cutoffs.
 *
 * The cutoff slider, its number box and the near cutoff are not wired to the server. This file owns them: it
 * writes cutoffs others set (dazdm:set-cutoff), watches the user's edits (and the band panel's, dazdm:bands-edit),
 * and sends the latest values — cutoffs and band plan — through the hidden "live request" textbox, one request at
 * a time. While a preview is on its way, further moves only mark the
 * values as changed; the newest values go out when it arrives. Each request names the file view it was made in
 * (key and view number), so one still on its way when the page switches files changes nothing there. The band
 * plan sent is the band panel's, as dazdm:bands and dazdm:bands-edit last told; each answer goes out as dazdm:reply
 * with `superseded` set when newer values wait to be sent.
 *
 * gradio 3 ignores a trigger while the same event is pending: a request resent by the watchdog during a slow
 * render is dropped. So an answer to anything but the newest request puts the newest values back in the queue.
 *
 * Each request is first offered to the server's preview route (dazdm:live-request; daz_depthmap_preview_route.js
 * takes it when it can, and answers with dazdm:route-reply or hands it back with dazdm:route-failed). The route
 * skips gradio's queue and page updates, so it is several times faster in the WebUI; it cannot touch gradio's
 * components, so once the values settle one last request goes through gradio: the preview components then hold
 * the picture shown, and the downloads of an earlier Save (now stale) are cleared, as without the route.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const live = (ns.live = ns.live || {});

    /** A request unanswered this long is sent again (the answer may be lost, or the render slow). */
    const WATCHDOG_MS = 4000;
    /** Latencies kept per tab, for the tests and for curious users (dazDepthmap.live.latencies(prefix)). */
    const KEEP = 200;
    /** After the route's last answer, this long without a change sends the values through gradio once. */
    const SETTLE_MS = 250;

    /** prefix -> the live path's state of that tab. This file's own: dazDepthmap.live.busy / latencies / status
     * tell of it. */
    const states = new Map();

    function liveState(prefix) {
        let s = states.get(prefix);
        if (!s) {
            s = {
                seq: 0, // the newest request sent
                inFlight: 0, // seq of the request on its way, 0 when none
                dirty: false, // the inputs changed since the newest request
                changedAt: null, // time of the oldest change not sent yet
                sentAt: {},
                sent: {}, // seq -> the cutoffs that request carried
                latencies: [],
                watchdog: null,
                lastReply: null,
                restoring: false, // true while the cutoffs in use are written back into the inputs
                settleTimer: null, // set while the values wait to be sent through gradio once (see above)
                settling: false, // the next request goes through gradio (the route's values settled)
                plan: null, // the band panel's plan, sent with every request (dazdm:bands, dazdm:bands-edit)
                suggest: false, // the next request asks for suggested bands (dazdm:bands-edit), once
            };
            states.set(prefix, s);
        }
        return s;
    }

    function requestBox(root) {
        return root.querySelector(".dazdm-live-request textarea, .dazdm-live-request input");
    }

    function send(prefix) {
        const s = liveState(prefix);
        const root = ns.root(prefix);
        if (!root || s.inFlight || !s.dirty) {
            return;
        }
        const view = ns.viewOf(prefix);
        if (!view || view.key === null || view.key === undefined) {
            s.dirty = false; // nothing loaded: nothing to preview
            return;
        }
        const box = requestBox(root);
        if (!box) {
            console.error("daz_depthmap: the live request box is missing; the preview cannot follow the cutoffs");
            return;
        }
        const cutoffs = ns.cutoffs(root);
        s.seq += 1;
        s.dirty = false;
        s.inFlight = s.seq;
        const now = performance.now();
        const settle = s.settling;
        s.settling = false;
        s.sentAt[s.seq] = { changed: s.changedAt !== null ? s.changedAt : now, sent: now, settle: settle };
        s.sent = {};
        s.sent[s.seq] = cutoffs;
        s.changedAt = null;
        const request = { seq: s.seq, key: view.key, view: view.view, far: cutoffs.far, near: cutoffs.near };
        if (s.plan && view.bands) {
            request.bands = s.plan; // the band panel's plan goes with every request, a suggestion once
            if (s.suggest) {
                request.suggest = true;
                s.suggest = false;
            }
        }
        const offer = { request: request, taken: false, viaGradio: settle };
        ns.emit(prefix, "dazdm:live-request", offer);
        if (!offer.taken) {
            ns.setInputValue(box, JSON.stringify(request));
        }
        clearTimeout(s.watchdog);
        s.watchdog = setTimeout(function () {
            s.inFlight = 0;
            s.dirty = true;
            send(prefix);
        }, WATCHDOG_MS);
    }

    function changed(prefix) {
        const s = liveState(prefix);
        cancelSettle(s);
        s.dirty = true;
        if (s.changedAt === null) {
            s.changedAt = performance.now();
        }
        // after gradio's own handlers have copied the value between the slider and its number box
        setTimeout(function () {
            send(prefix);
        }, 0);
    }

    /** gradio: the server answered a live request (through the hidden "live done" textbox). */
    live.done = function (prefix, text) {
        let reply;
        try {
            reply = JSON.parse(text || "{}");
        } catch (error) {
            return [];
        }
        answered(prefix, reply, false);
        return [];
    };

    /** The server answered a live request, through gradio or (`viaRoute`) the preview route. */
    function answered(prefix, reply, viaRoute) {
        const s = liveState(prefix);
        if (reply.seq === undefined || reply.seq === null) {
            return;
        }
        const times = s.sentAt[reply.seq];
        delete s.sentAt[reply.seq];
        if (times !== undefined && !reply.stale && !times.settle) {
            const now = performance.now();
            s.latencies.push({
                seq: reply.seq,
                ms: now - times.changed,
                round_trip_ms: now - times.sent,
                server_ms: reply.ms,
                route: viaRoute,
            });
            if (s.latencies.length > KEEP) {
                s.latencies.shift();
            }
        }
        if (reply.seq !== s.seq) {
            s.dirty = true; // an older request's answer: the newest values may never have reached the server
        }
        const sent = s.sent[reply.seq];
        if (!reply.stale) {
            s.lastReply = reply;
            if (reply.error && reply.far !== undefined && sent && !s.dirty) {
                restore(prefix, sent, reply);
            } else if (!reply.error) {
                const root = ns.root(prefix);
                if (root) {
                    markNear(root, null);
                }
            }
            ns.emit(prefix, "dazdm:reply", { reply: reply, superseded: s.dirty });
        }
        // any answer frees the path: at most one request is on its way, or a resend that gradio dropped
        s.inFlight = 0;
        clearTimeout(s.watchdog);
        if (viaRoute) {
            // once the values settle, one request through gradio, for its components (the route's answers left
            // a picture gradio does not know, or none where the page had no image yet); set now, so the path
            // counts as busy until it has gone
            cancelSettle(s);
            s.settleTimer = setTimeout(function () {
                s.settleTimer = null;
                if (s.inFlight || s.dirty) {
                    return; // newer values are on their way: their answer sets it again
                }
                s.settling = true;
                s.dirty = true;
                send(prefix);
            }, reply.undrawn ? 0 : SETTLE_MS);
        }
        // gradio still counts the event as pending while it hands us its output, and would drop a trigger now
        setTimeout(function () {
            send(prefix);
        }, 0);
    }

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
                write(root, "far", reply.far);
            }
            if (!sameValue(shown.near, reply.near === undefined ? null : reply.near)) {
                // a near cutoff refused: kept as typed, the box red with the reason (Save refuses it too)
                markNear(root, reply.error);
            }
        } finally {
            s.restoring = false;
        }
    }

    /** Mark the near cutoff's box refused, with the reason under it (style.css shows data-dazdm-error), or clear. */
    function markNear(root, reason) {
        const block = root.querySelector(".dazdm-near");
        const input = ns.cutoffInputs(root).near;
        if (!block) {
            return;
        }
        if (reason) {
            block.dataset.dazdmError = reason;
        } else {
            delete block.dataset.dazdmError;
        }
        if (input) {
            input.setAttribute("aria-invalid", reason ? "true" : "false");
            if (reason) {
                input.title = reason;
            } else {
                input.removeAttribute("title");
            }
        }
    }

    /** Write a cutoff into its input as if typed there (an empty near cutoff means "the nearest depth"). */
    function write(root, which, value) {
        const inputs = ns.cutoffInputs(root);
        if (which === "near") {
            if (inputs.near) {
                const empty = value === null || value === undefined || value === "";
                ns.setInputValue(inputs.near, empty ? "" : String(Number(value)));
            }
            return;
        }
        if (value === null || value === undefined || !Number.isFinite(Number(value))) {
            return;
        }
        const input = inputs.number || inputs.range;
        if (input) {
            ns.setInputValue(input, String(Number(value)));
        }
    }

    /** Latencies so far: [{seq, ms: first unsent change to preview, round_trip_ms: request to preview, server_ms}]. */
    live.latencies = function (prefix) {
        return liveState(prefix).latencies.slice();
    };

    function cancelSettle(s) {
        clearTimeout(s.settleTimer);
        s.settleTimer = null;
    }

    /** True while a preview request is on its way or a change waits to be sent (through the route or gradio). */
    live.busy = function (prefix) {
        const s = liveState(prefix);
        return Boolean(s.inFlight || s.dirty || s.settleTimer);
    };

    /** For tests and tools: the newest request's seq, the one on its way (0: none), whether changed values wait to be
     * sent, and the last answer (not stale) the server gave. */
    live.status = function (prefix) {
        const s = liveState(prefix);
        return { seq: s.seq, inFlight: s.inFlight, dirty: s.dirty, lastReply: s.lastReply };
    };

    ns.concerns.push(function setupLive(root) {
        const prefix = root.id;
        root.addEventListener("input", function (event) {
            const target = event.target;
            const cutoff = target && target.closest && target.closest(".dazdm-cutoff, .dazdm-near");
            if (!cutoff) {
                return;
            }
            ns.emit(prefix, "dazdm:cutoffs", null);
            if (!liveState(prefix).restoring) {
                changed(prefix);
            }
        });
        root.addEventListener("dazdm:bands", function (event) {
            liveState(prefix).plan = event.detail;
        });
        root.addEventListener("dazdm:bands-edit", function (event) {
            const s = liveState(prefix);
            s.plan = event.detail.plan;
            if (event.detail.suggest) {
                s.suggest = true;
            }
            changed(prefix);
        });
        root.addEventListener("dazdm:route-reply", function (event) {
            answered(prefix, event.detail, true);
        });
        root.addEventListener("dazdm:route-failed", function (event) {
            // the route could not serve it: the same request through gradio (the watchdog still runs)
            const box = requestBox(root);
            const s = liveState(prefix);
            if (box && s.inFlight === event.detail.seq) {
                ns.setInputValue(box, JSON.stringify(event.detail));
            }
        });
        root.addEventListener("dazdm:set-cutoff", function (event) {
            write(root, event.detail.which, event.detail.value);
        });
        root.addEventListener("dazdm:view", function () {
            // a new file view: its cutoffs are what the server set; nothing waits to be sent for the old one
            const s = liveState(prefix);
            s.dirty = false;
            s.changedAt = null;
            s.suggest = false; // asked in the old view
            cancelSettle(s);
        });
    });
})();
