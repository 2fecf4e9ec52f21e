/* DAZ depth map tab: pointer input on the histogram and the "Use suggestion" button.
 *
 * Clicking or dragging sets the far cutoff (or the near one, when grabbed near its line or with Shift); hovering
 * tells the depth and the share of pixels in the bin. Cutoffs go out as dazdm:set-cutoff events (the live path
 * writes them into the inputs and sends them); the hover position as dazdm:pointer (the drawing shows it).
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const model = (ns.histogramModel = ns.histogramModel || {});

    ns.concerns.push(function setupHistogramInput(root) {
        const prefix = root.id;
        const canvas = root.querySelector(".dazdm-histo-canvas");
        const tip = root.querySelector(".dazdm-tip");
        const suggest = root.querySelector(".dazdm-use-suggestion");
        if (!canvas) {
            return;
        }
        let drag = null; // "far" or "near" while a button is down

        function data() {
            const view = ns.stateOf(prefix).view;
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
            if (!view || !drag) {
                return;
            }
            ns.emit(prefix, "dazdm:set-cutoff", { which: drag, value: model.valueAt(view, geometry(view), plotX(event)) });
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
            drag = model.grab(view, geometry(view), plotX(event), ns.cutoffs(root), event.shiftKey);
            canvas.setPointerCapture(event.pointerId);
            setFromPointer(event);
            event.preventDefault();
        });
        canvas.addEventListener("pointermove", function (event) {
            setFromPointer(event);
            tooltip(event);
        });
        function endDrag(event) {
            if (drag) {
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
