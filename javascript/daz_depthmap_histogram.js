/* DAZ depth map tab: the interactive depth histogram.
 *
 * Drawn on a canvas from data the server sends when a file is shown (the hidden "histogram data" textbox): fine
 * bins, linear or log counts, the far and near cutoffs as lines with the clipped ranges shaded, the suggested
 * cutoff as a dashed marker. Clicking or dragging sets the far cutoff (or the near one, when grabbed near its
 * line) by writing into the cutoff inputs, so the slider, its number box and the live preview follow.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const histogram = (ns.histogram = ns.histogram || {});

    const PAD = { left: 10, right: 10, top: 18, bottom: 20 };
    const GRAB_PX = 7;

    function histState(prefix) {
        const state = ns.stateOf(prefix);
        if (!state.histogram) {
            state.histogram = { data: null, hover: null, drag: null, frame: 0 };
        }
        return state.histogram;
    }

    function parts(root) {
        return {
            plot: root.querySelector(".dazdm-histo-plot"),
            canvas: root.querySelector(".dazdm-histo-canvas"),
            tip: root.querySelector(".dazdm-tip"),
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

    /** Plot geometry in CSS pixels of the canvas box. */
    function geometry(canvas, data) {
        const width = canvas.clientWidth;
        const height = canvas.clientHeight;
        const plotW = Math.max(1, width - PAD.left - PAD.right);
        const plotH = Math.max(1, height - PAD.top - PAD.bottom);
        const span = data.hi - data.lo || 1;
        return {
            width: width,
            height: height,
            left: PAD.left,
            top: PAD.top,
            plotW: plotW,
            plotH: plotH,
            x: function (depth) {
                return PAD.left + ((depth - data.lo) / span) * plotW;
            },
            depth: function (x) {
                return data.lo + ((x - PAD.left) / plotW) * span;
            },
        };
    }

    /** Share of the valid pixels on the far side of `value` (bins split linearly). */
    function shareBeyond(data, value, farSideHigh) {
        const n = data.counts.length;
        const width = (data.hi - data.lo) / n || 1;
        let total = 0;
        for (let i = 0; i < n; i++) {
            const lo = data.lo + i * width;
            const part = Math.min(1, Math.max(0, (lo + width - value) / width));
            total += data.counts[i] * (farSideHigh ? part : 1 - part);
        }
        return data.valid ? total / data.valid : 0;
    }

    function percent(share) {
        const value = share * 100;
        if (value > 0 && value < 0.01) {
            return "< 0.01 %";
        }
        return (value >= 10 || value === 0 ? value.toFixed(0) : value.toPrecision(2)) + " %";
    }

    function draw(prefix) {
        const root = ns.root(prefix);
        const s = histState(prefix);
        if (!root) {
            return;
        }
        const p = parts(root);
        if (!p.canvas) {
            return;
        }
        const data = s.data;
        const hasData = Boolean(data && data.key !== null && data.counts && data.counts.length);
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
        const g = geometry(p.canvas, data);
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
        ctx.fillStyle = accent;
        for (let i = 0; i < n; i++) {
            if (!data.counts[i]) {
                continue;
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
        const far = cut.far !== null ? cut.far : data.invert ? data.lo : data.hi;
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

        // cutoff lines with labels
        function cutoffLine(x, label, alignRight) {
            const lx = Math.round(x) + 0.5;
            ctx.strokeStyle = text;
            ctx.lineWidth = 2;
            ctx.beginPath();
            ctx.moveTo(lx, g.top - 4);
            ctx.lineTo(lx, g.top + g.plotH);
            ctx.stroke();
            ctx.lineWidth = 1;
            ctx.fillStyle = text;
            const w = ctx.measureText(label).width;
            let tx = alignRight ? lx - w - 4 : lx + 4;
            tx = Math.min(Math.max(tx, 0), g.width - w);
            ctx.fillText(label, tx, 2);
        }
        cutoffLine(farX, "far " + ns.formatDepth(far), !data.invert);
        if (nearX !== null) {
            cutoffLine(nearX, "near " + ns.formatDepth(near), data.invert);
        }

        // axis labels: both ends and three between
        ctx.fillStyle = subdued;
        ctx.textBaseline = "bottom";
        for (let k = 0; k <= 4; k++) {
            const depth = data.lo + ((data.hi - data.lo) * k) / 4;
            const label = ns.formatDepth(depth);
            const w = ctx.measureText(label).width;
            const x = g.x(depth) - (k === 0 ? 0 : k === 4 ? w : w / 2);
            ctx.fillText(label, x, g.height - 2);
        }

        // hover position
        if (s.hover !== null && !s.drag) {
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
            const clipped = shareBeyond(data, far, !data.invert);
            const reply = s.reply;
            const exact = reply && reply.key === data.key && reply.far === far ? reply.clipped_far : null;
            const share = exact !== null && exact !== undefined ? exact : clipped;
            let caption = percent(share) + " of depth pixels clipped to black";
            if (reply && reply.error) {
                caption = "⚠ " + reply.error;
            }
            p.caption.textContent = caption;
            p.caption.classList.toggle("dazdm-error", Boolean(reply && reply.error));
        }
    }

    function scheduleDraw(prefix) {
        const s = histState(prefix);
        if (s.frame) {
            return;
        }
        s.frame = requestAnimationFrame(function () {
            s.frame = 0;
            draw(prefix);
        });
    }

    /** New data from the server (a file was shown): `text` is JSON from the workspace. */
    histogram.setData = function (prefix, text) {
        const s = histState(prefix);
        try {
            s.data = JSON.parse(text || "null");
        } catch (error) {
            s.data = null;
        }
        s.reply = null;
        if (ns.live && ns.live.reset) {
            ns.live.reset(prefix);
        }
        // gradio sets the slider after this call in the same update: draw on the next frame
        scheduleDraw(prefix);
        return [];
    };

    /** The server answered a live request: show its exact clipped share or its complaint. */
    histogram.liveReply = function (prefix, reply) {
        histState(prefix).reply = reply;
        scheduleDraw(prefix);
    };

    /** The data currently drawn (tests use it). */
    histogram.data = function (prefix) {
        return histState(prefix).data;
    };

    function tooltip(prefix, root, event) {
        const s = histState(prefix);
        const p = parts(root);
        const data = s.data;
        if (!data || data.key === null || !p.tip) {
            return;
        }
        const rect = p.canvas.getBoundingClientRect();
        const x = event.clientX - rect.left;
        const g = geometry(p.canvas, data);
        const n = data.counts.length;
        const bin = Math.floor(((x - g.left) / g.plotW) * n);
        if (bin < 0 || bin >= n) {
            p.tip.hidden = true;
            s.hover = null;
            scheduleDraw(prefix);
            return;
        }
        const width = (data.hi - data.lo) / n;
        const from = data.lo + bin * width;
        const share = data.valid ? data.counts[bin] / data.valid : 0;
        p.tip.textContent =
            "depth " +
            ns.formatDepth(g.depth(x)) +
            " · bin " +
            ns.formatDepth(from) +
            "–" +
            ns.formatDepth(from + width) +
            ": " +
            percent(share) +
            " of pixels";
        p.tip.hidden = false;
        const tipW = p.tip.offsetWidth;
        p.tip.style.left = Math.min(Math.max(x + 12, 0), Math.max(0, rect.width - tipW)) + "px";
        p.tip.style.top = PAD.top + 4 + "px";
        s.hover = x;
        scheduleDraw(prefix);
    }

    function valueAt(data, g, x) {
        const raw = Math.min(Math.max(g.depth(x), data.lo), data.hi);
        const step = data.step || 0;
        if (step > 0) {
            const decimals = Math.max(0, -Math.floor(Math.log10(step)));
            return Number((Math.round(raw / step) * step).toFixed(decimals));
        }
        return raw;
    }

    function setFromPointer(prefix, root, event) {
        const s = histState(prefix);
        const p = parts(root);
        const data = s.data;
        if (!data || !s.drag) {
            return;
        }
        const rect = p.canvas.getBoundingClientRect();
        const g = geometry(p.canvas, data);
        const value = valueAt(data, g, event.clientX - rect.left);
        if (s.drag === "near") {
            ns.live.setNear(prefix, value);
        } else {
            ns.live.setFar(prefix, value);
        }
        scheduleDraw(prefix);
    }

    function grabbed(prefix, root, event) {
        const data = histState(prefix).data;
        const p = parts(root);
        const g = geometry(p.canvas, data);
        const x = event.clientX - p.canvas.getBoundingClientRect().left;
        const cut = ns.cutoffs(root);
        if (cut.near !== null && Math.abs(g.x(cut.near) - x) <= GRAB_PX) {
            const farClose = cut.far !== null && Math.abs(g.x(cut.far) - x) <= Math.abs(g.x(cut.near) - x);
            return farClose ? "far" : "near";
        }
        if (event.shiftKey) {
            return "near";
        }
        return "far";
    }

    ns.concerns.push(function setupHistogram(root) {
        const prefix = root.id;
        const p = parts(root);
        if (!p.canvas) {
            return;
        }
        const s = histState(prefix);
        if (window.ResizeObserver) {
            new ResizeObserver(function () {
                scheduleDraw(prefix);
            }).observe(p.plot || p.canvas);
        }
        p.canvas.addEventListener("pointerdown", function (event) {
            if (!s.data || s.data.key === null || event.button !== 0) {
                return;
            }
            s.drag = grabbed(prefix, root, event);
            p.canvas.setPointerCapture(event.pointerId);
            setFromPointer(prefix, root, event);
            event.preventDefault();
        });
        p.canvas.addEventListener("pointermove", function (event) {
            if (s.drag) {
                setFromPointer(prefix, root, event);
            }
            tooltip(prefix, root, event);
        });
        function endDrag(event) {
            if (s.drag) {
                s.drag = null;
                if (p.canvas.hasPointerCapture(event.pointerId)) {
                    p.canvas.releasePointerCapture(event.pointerId);
                }
                scheduleDraw(prefix);
            }
        }
        p.canvas.addEventListener("pointerup", endDrag);
        p.canvas.addEventListener("pointercancel", endDrag);
        p.canvas.addEventListener("pointerleave", function () {
            if (p.tip) {
                p.tip.hidden = true;
            }
            s.hover = null;
            scheduleDraw(prefix);
        });
        if (p.log) {
            p.log.addEventListener("change", function () {
                scheduleDraw(prefix);
            });
        }
        if (p.suggest) {
            p.suggest.addEventListener("click", function () {
                if (s.data && s.data.suggestion !== null && s.data.suggestion !== undefined) {
                    ns.live.setFar(prefix, s.data.suggestion);
                }
            });
        }
        // redraw the lines as the cutoff inputs change (typing, dragging the slider, our own writes)
        root.addEventListener("input", function (event) {
            const target = event.target;
            if (target && target.closest && target.closest(".dazdm-cutoff, .dazdm-near")) {
                scheduleDraw(prefix);
            }
        });
        scheduleDraw(prefix);
    });
})();
