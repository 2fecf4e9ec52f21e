/* DAZ depth map tab: the band plan's model — pure functions over the bands the server sends in a file view.
 *
 * A plan here is the `bands` object of a view or live reply: {splits: [depth...], bands: [{levels, label, colour,
 * region, locked, share, active, shown_colour}...], mode, split_parts, min_area, region_size, ...}. Every function
 * returns a changed copy; the server checks what is sent and answers with the plan it used (levels allocated).
 * No DOM here: the panel (daz_depthmap_bands.js), the drawing and the pointer input all use these. The limits
 * the server sets (the most levels, the highest region number) are not copied here: the panel reads them from
 * the page.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    const bands = (ns.bandModel = ns.bandModel || {});

    bands.copy = function (plan) {
        return JSON.parse(JSON.stringify(plan));
    };

    function emptyBand() {
        return { levels: 0, label: "", colour: "", region: null, locked: false, share: 0, active: true };
    }

    /** `a` is nearer to the camera than `b` (depth grows away from it, unless the input is inverted). */
    function nearer(a, b, invert) {
        return invert ? a > b : a < b;
    }

    /** The window's near end and far cutoff as depths: the cutoffs, or the ends of the valid range. */
    bands.ends = function (view, cutoffs) {
        const near = cutoffs.near !== null ? cutoffs.near : view.invert ? view.farthest : view.nearest;
        const far = cutoffs.far !== null ? cutoffs.far : view.invert ? view.nearest : view.farthest;
        return { near: near, far: far };
    };

    /** The band (index) a depth falls in: depths at a split belong to the farther band. */
    bands.bandAt = function (plan, depth, invert) {
        let i = 0;
        while (i < plan.splits.length && !nearer(depth, plan.splits[i], invert)) {
            i++;
        }
        return i;
    };

    /** Split the band holding `depth`; its far part becomes a new empty band (levels 0, unlocked, no region).
     * Null when the depth is outside the window or on a split already. */
    bands.addSplit = function (plan, depth, view, cutoffs) {
        const ends = bands.ends(view, cutoffs);
        if (!(nearer(ends.near, depth, view.invert) && nearer(depth, ends.far, view.invert))) {
            return null;
        }
        if (plan.splits.some((s) => s === depth)) {
            return null;
        }
        const out = bands.copy(plan);
        const at = bands.bandAt(plan, depth, view.invert);
        out.splits.splice(at, 0, depth);
        out.bands.splice(at + 1, 0, emptyBand());
        return out;
    };

    /** Move split `i` to `depth`, kept strictly between its neighbours (the cutoffs at the ends). */
    bands.moveSplit = function (plan, i, depth, view, cutoffs) {
        const ends = bands.ends(view, cutoffs);
        const before = i > 0 ? plan.splits[i - 1] : ends.near;
        const after = i < plan.splits.length - 1 ? plan.splits[i + 1] : ends.far;
        const step = (view.step || Math.abs(after - before) / 1000 || 1e-6) / 10;
        const lo = Math.min(before, after) + step;
        const hi = Math.max(before, after) - step;
        if (!(lo < hi)) {
            return plan;
        }
        const out = bands.copy(plan);
        out.splits[i] = Math.min(Math.max(depth, lo), hi);
        return out;
    };

    /** Remove band `i`: merged into the band behind it (the last band into the one in front), keeping the nearer
     * band's label, colour and region and the levels of both. */
    bands.removeBand = function (plan, i) {
        if (plan.splits.length === 0) {
            return plan;
        }
        const split = Math.min(i, plan.splits.length - 1);
        const out = bands.copy(plan);
        const keep = out.bands[split];
        const gone = out.bands[split + 1];
        keep.levels = (keep.levels || 0) + (gone.levels || 0);
        keep.locked = Boolean(keep.locked && gone.locked);
        keep.share = (keep.share || 0) + (gone.share || 0);
        out.splits.splice(split, 1);
        out.bands.splice(split + 1, 1);
        return out;
    };

    /** Band `i` changed (`levels`, `label`, `colour`, `region`, `locked`); typed levels lock the band. */
    bands.setBand = function (plan, i, changes) {
        const out = bands.copy(plan);
        Object.assign(out.bands[i], changes);
        const has = (name) => Object.prototype.hasOwnProperty.call(changes, name);
        if (has("levels") && !has("locked")) {
            out.bands[i].locked = true;
        }
        return out;
    };

    /** Every band inside the cutoffs that holds pixels a region, 0, 1, 2... from near to far; others none. */
    bands.numberRegions = function (plan) {
        const out = bands.copy(plan);
        let next = 0;
        out.bands.forEach(function (band) {
            band.region = band.active !== false && band.share > 0 ? next++ : null;
        });
        return out;
    };

    /** The levels given to the bands inside the cutoffs. */
    bands.total = function (plan) {
        return plan.bands.reduce((sum, b) => sum + (b.active !== false ? Number(b.levels) || 0 : 0), 0);
    };

    /** Each band's depths [start, end] in the window (null for bands outside the cutoffs). */
    bands.ranges = function (plan, view, cutoffs) {
        const ends = bands.ends(view, cutoffs);
        const edges = [ends.near].concat(plan.splits, [ends.far]);
        return plan.bands.map(function (band, i) {
            return band.active === false ? null : [edges[i], edges[i + 1]];
        });
    };

    /** "512x768" (or "512×768", "512 768") as [512, 768]; "" as null; anything else undefined. */
    bands.parseSize = function (text) {
        const trimmed = String(text || "").trim();
        if (!trimmed) {
            return null;
        }
        const match = /^(\d{1,5})\s*[x×X* ,]\s*(\d{1,5})$/.exec(trimmed);
        if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) {
            return undefined;
        }
        return [Number(match[1]), Number(match[2])];
    };

    /** The split whose line is within `grabPx` of plot x (the nearest), or -1. */
    bands.grab = function (plan, g, x, grabPx) {
        let best = -1;
        let bestDistance = grabPx;
        (plan ? plan.splits : []).forEach(function (split, i) {
            const distance = Math.abs(g.x(split) - x);
            if (distance <= bestDistance) {
                best = i;
                bestDistance = distance;
            }
        });
        return best;
    };
})();
