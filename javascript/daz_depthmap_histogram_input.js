/* DAZ depth map tab: pointer input on the histogram and the "Use suggestion" button.
 *
 * Clicking or dragging sets the far cutoff (or the near one, when grabbed near its line or with Shift); a split
 * line between bands is dragged when grabbed (dazdm:split-move), and Ctrl+click (or a click in the panel's Add split
 * mode) adds a split (dazdm:split-add); hovering tells the depth and the share of pixels in the bin. Cutoffs go
 * out as dazdm:set-cutoff events (the live path writes them into the inputs and sends them), split changes to the
 * band panel, the hover position as dazdm:pointer (the drawing shows it). The band plan and the Add split mode are
 * the panel's: this file keeps what dazdm:bands and dazdm:add-mode last told.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const model = (ns.histogramModel = ns.histogramModel || {});
    const bandModel = (ns.bandModel = ns.bandModel || {});

    ns.concerns.push(function setupHistogramInput(root) {
        const prefix = root.id;
        const canvas = root.querySelector(".dazdm-histo-canvas");
        const tip = root.querySelector(".dazdm-tip");
        const suggest = root.querySelector(".dazdm-use-suggestion");
        if (!canvas) {
            return;
        }
        let drag = null; // "far", "near" or a split's index while a button is down
        let bandPlan = null; // the band panel's plan (dazdm:bands)
        let addMode = false; // the band panel's Add split mode (dazdm:add-mode)

        function data() {
            const view = ns.viewOf(prefix);
            return model.hasData(view) ? view : null;
        }

        function plotX(event) {
            return event.clientX - canvas.getBoundingClientRect().left;
        }

        function geometry(view) {
            return model.geometry(canvas.clientWidth, canvas.clientHeight, view);
        }

        function pointer(hover) {
            ns.emit(prefix, "dazdm:pointer", { hover: hover, dragging: drag !== null });
        }

        function setFromPointer(event) {
            const view = data();
            if (!view || drag === null) {
                return;
            }
            const value = model.valueAt(view, geometry(view), plotX(event));
            if (typeof drag === "number") {
                ns.emit(prefix, "dazdm:split-move", { index: drag, depth: value });
            } else {
                ns.emit(prefix, "dazdm:set-cutoff", { which: drag, value: value });
            }
        }

        /** The band plan of the panel, when it has one. */
        function plan() {
            return bandPlan;
        }

        /** What a press at plot x takes: a split line (when nearer than the cutoff lines), or a cutoff. */
        function grabAt(view, g, x, shiftKey) {
            const cutoffs = ns.cutoffs(root);
            const split = bandModel.grab(plan(), g, x, model.GRAB_PX);
            if (split >= 0) {
                const splitDistance = Math.abs(g.x(plan().splits[split]) - x);
                const lines = [model.farOf(view, cutoffs), cutoffs.near].filter((v) => v !== null);
                if (lines.every((v) => Math.abs(g.x(v) - x) > splitDistance)) {
                    return split;
                }
            }
            return model.grab(view, g, x, cutoffs, shiftKey);
        }

        function tooltip(event) {
            const view = data();
            if (!view || !tip) {
                return;
            }
            const x = plotX(event);
            const g = geometry(view);
            const n = view.counts.length;
            const bin = Math.floor(((x - g.left) / g.plotW) * n);
            if (bin < 0 || bin >= n) {
                tip.hidden = true;
                pointer(null);
                return;
            }
            const width = (view.hi - view.lo) / n;
            const from = view.lo + bin * width;
            const share = view.valid ? view.counts[bin] / view.valid : 0;
            tip.textContent =
                "depth " +
                ns.formatDepth(g.depth(x)) +
                " · bin " +
                ns.formatDepth(from) +
                "–" +
                ns.formatDepth(from + width) +
                ": " +
                model.percent(share) +
                " of pixels";
            tip.hidden = false;
            const tipW = tip.offsetWidth;
            tip.style.left = Math.min(Math.max(x + 12, 0), Math.max(0, canvas.clientWidth - tipW)) + "px";
            tip.style.top = model.PAD.top + 4 + "px";
            pointer(x);
        }

        canvas.addEventListener("pointerdown", function (event) {
            const view = data();
            if (!view || event.button !== 0) {
                return;
            }
            const g = geometry(view);
            if (plan() && (event.ctrlKey || event.metaKey || event.altKey || addMode)) {
                ns.emit(prefix, "dazdm:split-add", { depth: model.valueAt(view, g, plotX(event)) });
                event.preventDefault();
                return;
            }
            drag = grabAt(view, g, plotX(event), event.shiftKey);
            canvas.setPointerCapture(event.pointerId);
            setFromPointer(event);
            event.preventDefault();
        });
        canvas.addEventListener("pointermove", function (event) {
            setFromPointer(event);
            tooltip(event);
            const view = data();
            let cursor = "";
            if (view && plan() && (event.ctrlKey || event.metaKey || event.altKey || addMode)) {
                cursor = "copy";
            } else if (view && typeof drag === "number") {
                cursor = "ew-resize";
            } else if (view && drag === null && typeof grabAt(view, geometry(view), plotX(event), false) === "number") {
                cursor = "ew-resize";
            }
            canvas.style.cursor = cursor;
        });
        function endDrag(event) {
            if (drag !== null) {
                drag = null;
                if (canvas.hasPointerCapture(event.pointerId)) {
                    canvas.releasePointerCapture(event.pointerId);
                }
                pointer(null);
            }
        }
        canvas.addEventListener("pointerup", endDrag);
        canvas.addEventListener("pointercancel", endDrag);
        canvas.addEventListener("pointerleave", function () {
            if (tip) {
                tip.hidden = true;
            }
            pointer(null);
        });
        root.addEventListener("dazdm:bands", function (event) {
            bandPlan = event.detail;
        });
        root.addEventListener("dazdm:add-mode", function (event) {
            addMode = Boolean(event.detail.on);
        });
        if (suggest) {
            suggest.addEventListener("click", function () {
                const view = data();
                if (view && view.suggestion !== null && view.suggestion !== undefined) {
                    ns.emit(prefix, "dazdm:set-cutoff", { which: "far", value: view.suggestion });
                }
            });
        }
    });
})();
