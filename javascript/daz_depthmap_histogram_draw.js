/* DAZ depth map tab: drawing the depth histogram.
 *
 * Drawn on a canvas from the file view the server sends (fine bins, linear or log counts), with the far and near
 * cutoffs as lines and the clipped ranges shaded, the suggested cutoff as a dashed marker and the "Use suggestion"
 * button's label. With bands, the bars take their band's test colour and the splits are dashed lines. Redrawn on
 * the tab's events: a new view, changed cutoffs or bands, a live answer, a resize. The band plan drawn is the last
 * one dazdm:bands told; the file view is read from dazDepthmap.viewOf.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const model = (ns.histogramModel = ns.histogramModel || {});
    const bandModel = (ns.bandModel = ns.bandModel || {});

    /** prefix -> what the drawing of that tab keeps: the hover line, the band plan and the live answer last told,
     * the next frame asked for, the labels and ticks drawn last. This file's own. */
    const states = new Map();

    function drawState(prefix) {
        let s = states.get(prefix);
        if (!s) {
            s = { hover: null, dragging: false, frame: 0, reply: null, plan: null, labels: null, ticks: null };
            states.set(prefix, s);
        }
        return s;
    }

    /** For tests and tools: where the last drawing put the cutoff labels ({far: [x, width], near}) and its ticks. */
    ns.histogramDraw = {
        drawn: function (prefix) {
            const s = states.get(prefix);
            return s ? JSON.parse(JSON.stringify({ labels: s.labels, ticks: s.ticks })) : null;
        },
    };

    function parts(root) {
        return {
            plot: root.querySelector(".dazdm-histo-plot"),
            canvas: root.querySelector(".dazdm-histo-canvas"),
            empty: root.querySelector(".dazdm-histo-empty"),
            log: root.querySelector(".dazdm-log"),
            suggest: root.querySelector(".dazdm-use-suggestion"),
            caption: root.querySelector(".dazdm-histo-caption"),
        };
    }

    function cssVar(elem, name, fallback) {
        const value = getComputedStyle(elem).getPropertyValue(name).trim();
        return value || fallback;
    }

    function draw(prefix) {
        const root = ns.root(prefix);
        const s = drawState(prefix);
        if (!root) {
            return;
        }
        const p = parts(root);
        if (!p.canvas) {
            return;
        }
        const data = ns.viewOf(prefix);
        const hasData = model.hasData(data);
        if (p.empty) {
            p.empty.hidden = hasData;
        }
        // the suggestion for the current direction (inverted input: the subject's far edge on the small-value side)
        const suggested = hasData && data.suggestion !== null && data.suggestion !== undefined;
        if (p.suggest) {
            p.suggest.disabled = !suggested;
            p.suggest.textContent = suggested
                ? "Use suggestion (" + ns.formatDepth(data.suggestion) + ")"
                : "No suggestion";
            p.suggest.title = hasData ? data.suggestion_reason || "" : "";
        }
        const ratio = window.devicePixelRatio || 1;
        const cssW = p.canvas.clientWidth;
        const cssH = p.canvas.clientHeight;
        if (cssW === 0 || cssH === 0) {
            return; // tab hidden: drawn again when it is shown (ResizeObserver)
        }
        if (p.canvas.width !== Math.round(cssW * ratio) || p.canvas.height !== Math.round(cssH * ratio)) {
            p.canvas.width = Math.round(cssW * ratio);
            p.canvas.height = Math.round(cssH * ratio);
        }
        const ctx = p.canvas.getContext("2d");
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        ctx.clearRect(0, 0, cssW, cssH);
        if (!hasData) {
            if (p.caption) {
                p.caption.textContent = "";
            }
            return;
        }
        const g = model.geometry(cssW, cssH, data);
        const text = cssVar(root, "--body-text-color", "#1f2937");
        const subdued = cssVar(root, "--body-text-color-subdued", "#6b7280");
        const accent = cssVar(root, "--color-accent", "#f97316");
        const border = cssVar(root, "--border-color-primary", "#d1d5db");
        const shade = cssVar(root, "--block-background-fill", "#ffffff");
        const suggestColor = cssVar(root, "--color-green-500", "#22c55e");
        const font = cssVar(root, "--font", "sans-serif");

        // axis and bars
        const logScale = p.log ? p.log.checked : true;
        const value = logScale
            ? function (c) {
                  return Math.log10(1 + c);
              }
            : function (c) {
                  return c;
              };
        let top = 0;
        data.counts.forEach(function (c) {
            top = Math.max(top, value(c));
        });
        top = top || 1;
        const n = data.counts.length;
        const binW = g.plotW / n;
        // with bands, each bar in its band's test colour
        const plan = s.plan && s.plan.bands.length > 1 ? s.plan : null;
        const binDepth = (data.hi - data.lo) / n;
        ctx.fillStyle = accent;
        for (let i = 0; i < n; i++) {
            if (!data.counts[i]) {
                continue;
            }
            if (plan) {
                const band = plan.bands[bandModel.bandAt(plan, data.lo + (i + 0.5) * binDepth, data.invert)];
                ctx.fillStyle = band.shown_colour || accent;
            }
            const h = Math.max(1, (value(data.counts[i]) / top) * g.plotH);
            ctx.fillRect(g.left + i * binW, g.top + g.plotH - h, Math.max(binW, 1), h);
        }
        ctx.strokeStyle = border;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(g.left, g.top + g.plotH + 0.5);
        ctx.lineTo(g.left + g.plotW, g.top + g.plotH + 0.5);
        ctx.stroke();

        // clipped ranges: greyed out
        const cut = ns.cutoffs(root);
        const far = model.farOf(data, cut);
        const near = cut.near;
        const farX = Math.min(Math.max(g.x(far), g.left), g.left + g.plotW);
        ctx.save();
        ctx.globalAlpha = 0.72;
        ctx.fillStyle = shade;
        if (!data.invert) {
            ctx.fillRect(farX, g.top - 4, g.left + g.plotW - farX, g.plotH + 4);
        } else {
            ctx.fillRect(g.left, g.top - 4, farX - g.left, g.plotH + 4);
        }
        let nearX = null;
        if (near !== null) {
            nearX = Math.min(Math.max(g.x(near), g.left), g.left + g.plotW);
            if (!data.invert) {
                ctx.fillRect(g.left, g.top - 4, nearX - g.left, g.plotH + 4);
            } else {
                ctx.fillRect(nearX, g.top - 4, g.left + g.plotW - nearX, g.plotH + 4);
            }
        }
        ctx.restore();

        // suggestion marker
        ctx.font = "11px " + font;
        ctx.textBaseline = "top";
        if (suggested) {
            const sx = Math.round(g.x(data.suggestion)) + 0.5;
            ctx.strokeStyle = suggestColor;
            ctx.setLineDash([4, 3]);
            ctx.beginPath();
            ctx.moveTo(sx, g.top);
            ctx.lineTo(sx, g.top + g.plotH);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = suggestColor;
            ctx.beginPath();
            ctx.moveTo(sx - 5, g.top - 8);
            ctx.lineTo(sx + 5, g.top - 8);
            ctx.lineTo(sx, g.top - 2);
            ctx.closePath();
            ctx.fill();
        }

        // split lines between bands (faded when the cutoffs leave them out), each band's number above it
        if (plan) {
            ctx.save();
            ctx.lineWidth = 2;
            ctx.setLineDash([5, 3]);
            plan.splits.forEach(function (split, i) {
                const inside = plan.bands[i].active !== false && plan.bands[i + 1].active !== false;
                const sx = Math.round(g.x(split)) + 0.5;
                ctx.globalAlpha = inside ? 1 : 0.35;
                ctx.strokeStyle = text;
                ctx.beginPath();
                ctx.moveTo(sx, g.top + 12);
                ctx.lineTo(sx, g.top + g.plotH);
                ctx.stroke();
            });
            ctx.setLineDash([]);
            ctx.globalAlpha = 1;
            ctx.font = "bold 11px " + font;
            ctx.textBaseline = "top";
            const ends = bandModel.ends(data, ns.cutoffs(root));
            const edges = [ends.near].concat(plan.splits, [ends.far]);
            plan.bands.forEach(function (band, i) {
                const a = g.x(edges[i]);
                const b = g.x(edges[i + 1]);
                const label = String(i + 1);
                const w = ctx.measureText(label).width;
                if (Math.abs(b - a) > w + 6 && band.active !== false) {
                    ctx.fillStyle = band.shown_colour || text;
                    ctx.fillText(label, (a + b) / 2 - w / 2, g.top + 1);
                }
            });
            ctx.restore();
            ctx.font = "11px " + font;
        }
        p.canvas.dataset.splits = JSON.stringify(plan ? plan.splits : []);

        // cutoff lines, then their labels (kept apart: close lines put them side by side)
        function cutoffLine(x) {
            const lx = Math.round(x) + 0.5;
            ctx.strokeStyle = text;
            ctx.lineWidth = 2;
            ctx.beginPath();
            ctx.moveTo(lx, g.top - 4);
            ctx.lineTo(lx, g.top + g.plotH);
            ctx.stroke();
            ctx.lineWidth = 1;
        }
        cutoffLine(farX);
        if (nearX !== null) {
            cutoffLine(nearX);
        }
        const farLabel = "far " + ns.formatDepth(far);
        const nearLabel = nearX !== null ? "near " + ns.formatDepth(near) : null;
        const farW = ctx.measureText(farLabel).width;
        const nearW = nearLabel !== null ? ctx.measureText(nearLabel).width : 0;
        const at = model.labelPositions(farX, farW, nearX, nearW, g.width, data.invert);
        ctx.fillStyle = text;
        ctx.fillText(farLabel, at.far, 2);
        if (nearLabel !== null) {
            ctx.fillText(nearLabel, at.near, 2);
        }
        s.labels = { far: [at.far, farW], near: nearLabel !== null ? [at.near, nearW] : null };

        // axis: round ticks in the image's units
        ctx.fillStyle = subdued;
        ctx.strokeStyle = border;
        ctx.textBaseline = "bottom";
        const ticks = model.ticks(data.lo, data.hi, Math.max(2, Math.floor(g.plotW / 90)));
        ticks.forEach(function (tick) {
            const x = Math.round(g.x(tick.value)) + 0.5;
            ctx.beginPath();
            ctx.moveTo(x, g.top + g.plotH);
            ctx.lineTo(x, g.top + g.plotH + 3);
            ctx.stroke();
            const w = ctx.measureText(tick.label).width;
            ctx.fillText(tick.label, Math.min(Math.max(x - w / 2, 0), g.width - w), g.height - 2);
        });
        s.ticks = ticks;

        // hover position
        if (s.hover !== null && !s.dragging) {
            ctx.strokeStyle = subdued;
            ctx.setLineDash([2, 2]);
            ctx.beginPath();
            ctx.moveTo(Math.round(s.hover) + 0.5, g.top);
            ctx.lineTo(Math.round(s.hover) + 0.5, g.top + g.plotH);
            ctx.stroke();
            ctx.setLineDash([]);
        }

        // for tests and tools: where the depth axis is, in CSS pixels of the canvas
        p.canvas.dataset.lo = String(data.lo);
        p.canvas.dataset.hi = String(data.hi);
        p.canvas.dataset.plotLeft = String(g.left);
        p.canvas.dataset.plotWidth = String(g.plotW);

        if (p.caption) {
            const reply = s.reply;
            const exact = reply && reply.key === data.key && reply.far === far ? reply.clipped_far : null;
            const share = exact !== null && exact !== undefined ? exact : model.shareBeyond(data, far, !data.invert);
            let caption = model.percent(share) + " of depth pixels clipped to black";
            const problem = reply && (reply.error || (reply.key === data.key && reply.warning));
            if (problem) {
                caption = "⚠ " + problem;
            }
            p.caption.textContent = caption;
            p.caption.title = caption; // the toolbar keeps one line: a long warning is cut there (style.css)
            p.caption.classList.toggle("dazdm-error", Boolean(problem));
        }
    }

    function scheduleDraw(prefix) {
        const s = drawState(prefix);
        if (s.frame) {
            return;
        }
        s.frame = requestAnimationFrame(function () {
            s.frame = 0;
            draw(prefix);
        });
    }

    ns.concerns.push(function setupHistogramDraw(root) {
        const prefix = root.id;
        const p = parts(root);
        if (!p.canvas) {
            return;
        }
        const s = drawState(prefix);
        if (window.ResizeObserver) {
            new ResizeObserver(function () {
                scheduleDraw(prefix);
            }).observe(p.plot || p.canvas);
        }
        if (p.log) {
            p.log.addEventListener("change", function () {
                scheduleDraw(prefix);
            });
        }
        root.addEventListener("dazdm:view", function () {
            s.reply = null;
            scheduleDraw(prefix); // gradio sets the slider after the view in the same update: draw on the next frame
        });
        root.addEventListener("dazdm:cutoffs", function () {
            scheduleDraw(prefix);
        });
        root.addEventListener("dazdm:reply", function (event) {
            s.reply = event.detail.reply;
            scheduleDraw(prefix);
        });
        root.addEventListener("dazdm:bands", function (event) {
            s.plan = event.detail;
            scheduleDraw(prefix);
        });
        root.addEventListener("dazdm:pointer", function (event) {
            s.hover = event.detail.hover;
            s.dragging = event.detail.dragging;
            scheduleDraw(prefix);
        });
        scheduleDraw(prefix);
    });
})();
