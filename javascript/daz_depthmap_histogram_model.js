/* DAZ depth map tab: the histogram's model — pure functions of the file view's data and the plot's size.
 *
 * No DOM here: the drawing (daz_depthmap_histogram_draw.js) and the pointer input (daz_depthmap_histogram_input.js)
 * both place depths on the plot through these functions, so a click lands where the line is drawn.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    const model = (ns.histogramModel = ns.histogramModel || {});

    /** Space around the plot inside the canvas, in CSS pixels (labels above, axis ticks below). */
    model.PAD = { left: 10, right: 10, top: 18, bottom: 20 };
    /** A pointer this close to the near cutoff's line grabs it. */
    model.GRAB_PX = 7;

    /** True when the view holds a file's histogram. */
    model.hasData = function (data) {
        return Boolean(data && data.key !== null && data.key !== undefined && data.counts && data.counts.length);
    };

    /** Plot geometry for a canvas of `width` x `height` CSS pixels: depth <-> x. */
    model.geometry = function (width, height, data) {
        const pad = model.PAD;
        const plotW = Math.max(1, width - pad.left - pad.right);
        const plotH = Math.max(1, height - pad.top - pad.bottom);
        const span = data.hi - data.lo || 1;
        return {
            width: width,
            height: height,
            left: pad.left,
            top: pad.top,
            plotW: plotW,
            plotH: plotH,
            x: function (depth) {
                return pad.left + ((depth - data.lo) / span) * plotW;
            },
            depth: function (x) {
                return data.lo + ((x - pad.left) / plotW) * span;
            },
        };
    };

    /** Share of the valid pixels on the far side of `value` (bins split linearly). */
    model.shareBeyond = function (data, value, farSideHigh) {
        const n = data.counts.length;
        const width = (data.hi - data.lo) / n || 1;
        let total = 0;
        for (let i = 0; i < n; i++) {
            const lo = data.lo + i * width;
            const part = Math.min(1, Math.max(0, (lo + width - value) / width));
            total += data.counts[i] * (farSideHigh ? part : 1 - part);
        }
        return data.valid ? total / data.valid : 0;
    };

    /** A share as a short percentage. */
    model.percent = function (share) {
        const value = share * 100;
        if (value > 0 && value < 0.01) {
            return "< 0.01 %";
        }
        return (value >= 10 || value === 0 ? value.toFixed(0) : value.toPrecision(2)) + " %";
    };

    /** The depth under plot x, within the data's range and snapped to the slider's step. */
    model.valueAt = function (data, g, x) {
        const raw = Math.min(Math.max(g.depth(x), data.lo), data.hi);
        const step = data.step || 0;
        if (step > 0) {
            const decimals = Math.max(0, -Math.floor(Math.log10(step)));
            return Number((Math.round(raw / step) * step).toFixed(decimals));
        }
        return raw;
    };

    /** The far cutoff the lines show: the input's value, or the far end of the range when there is none. */
    model.farOf = function (data, cutoffs) {
        return cutoffs.far !== null ? cutoffs.far : data.invert ? data.lo : data.hi;
    };

    /** Round axis ticks for the range lo..hi: multiples of 1, 2 or 5 times a power of ten, about `count` of them,
     * each with its label (as many decimals as the step needs, no exponent for ordinary scene units). */
    model.ticks = function (lo, hi, count) {
        const span = hi - lo;
        if (!(span > 0) || !Number.isFinite(span)) {
            return [];
        }
        const raw = span / Math.max(1, count || 5);
        const power = Math.pow(10, Math.floor(Math.log10(raw)));
        const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= raw * (1 - 1e-9)) || 10 * power;
        const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
        const ticks = [];
        for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
            const value = k * step;
            const label = Math.abs(step) >= 1e-4 ? value.toFixed(Math.min(decimals, 10)) : value.toExponential(1);
            ticks.push({ value: value, label: label === "-0" ? "0" : label });
        }
        return ticks;
    };

    /** Where the far and near labels go (x of each label's left edge): each on the outer side of its line (the far
     * one beyond the far line, the near one before the near line), kept inside `width` and never on each other —
     * when the lines are too close for that, the labels sit side by side in the order of their lines. */
    model.labelPositions = function (farX, farW, nearX, nearW, width, invert) {
        const gap = 4;
        const clamp = (x, w) => Math.min(Math.max(x, 0), Math.max(0, width - w));
        // not inverted: near is left of far, so the near label goes left of its line and the far label right
        let far = clamp(invert ? farX - gap - farW : farX + gap, farW);
        if (nearX === null) {
            return { far: far, near: null };
        }
        let near = clamp(invert ? nearX + gap : nearX - gap - nearW, nearW);
        const leftFirst = invert ? ["far", "near"] : ["near", "far"]; // the label of the line further left first
        const pos = { far: far, near: near };
        const w = { far: farW, near: nearW };
        const [a, b] = leftFirst;
        if (pos[a] + w[a] + gap > pos[b]) {
            // overlapping: lay them side by side around the middle of the two lines
            const total = w[a] + gap + w[b];
            const start = clamp((farX + nearX) / 2 - total / 2, total);
            pos[a] = start;
            pos[b] = start + w[a] + gap;
        }
        far = pos.far;
        near = pos.near;
        return { far: far, near: near };
    };

    /** Which line a pointer at plot x grabs: the near one when close to it (and closer than the far one), or with
     * Shift; the far one otherwise. */
    model.grab = function (data, g, x, cutoffs, shiftKey) {
        if (cutoffs.near !== null && Math.abs(g.x(cutoffs.near) - x) <= model.GRAB_PX) {
            const far = cutoffs.far;
            const farCloser = far !== null && Math.abs(g.x(far) - x) <= Math.abs(g.x(cutoffs.near) - x);
            return farCloser ? "far" : "near";
        }
        return shiftKey ? "near" : "far";
    };
})();
