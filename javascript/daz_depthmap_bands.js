/* DAZ depth map tab: the band panel — one row per band, the level total, how levels are given, region options.
 *
 * The panel owns the band plan the page edits, and the Add split mode. Every edit here, on the histogram (a split
 * added with Ctrl+click or the Add split mode, a split line dragged) or in a row marks the plan as changed and
 * asks the live path to send it (dazdm:bands-edit); the live path sends it with the cutoffs, one request at a
 * time, so editing never builds a backlog. The server answers with the plan it used — levels allocated, pixel
 * shares, which bands the cutoffs leave out, a problem in words — and the panel shows that answer when no newer
 * values are waiting. The most levels and the highest region number are the server's: the panel element carries
 * them (data-total-levels, data-max-region). Events: listens to dazdm:view, dazdm:reply, dazdm:cutoffs,
 * dazdm:split-add, dazdm:split-move; sends dazdm:bands-edit, dazdm:bands (the plan shown: the histogram redraws
 * its split lines, the live path sends it) and dazdm:add-mode (the histogram's next click adds a split).
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];
    const model = (ns.bandModel = ns.bandModel || {});

    /** prefix -> the band state of that tab: the plan shown and edited, the Add split mode, the panel's limits.
     * This file's own: the others hear of the plan through dazdm:bands and of the mode through dazdm:add-mode. */
    const states = new Map();

    function bandState(prefix) {
        let s = states.get(prefix);
        if (!s) {
            s = { plan: null, addMode: false, localProblem: null, regionNotes: [], limits: null, suggestNote: null };
            states.set(prefix, s);
        }
        return s;
    }

    /** For tests and tools: a copy of the band plan the panel shows (null when none). */
    ns.bandPanel = {
        plan: function (prefix) {
            const s = states.get(prefix);
            return s && s.plan ? model.copy(s.plan) : null;
        },
    };

    /** The most levels a band can have and the highest region number, as the server wrote them on the panel
     * element. Missing or not whole numbers: an error (the panel is not set up), never numbers of our own. */
    function limitsOf(panel) {
        const totalLevels = Number(panel.dataset.totalLevels);
        const maxRegion = Number(panel.dataset.maxRegion);
        if (!(Number.isInteger(totalLevels) && totalLevels > 0 && Number.isInteger(maxRegion) && maxRegion >= 0)) {
            throw new Error(
                "daz_depthmap: the band panel carries no data-total-levels / data-max-region " +
                    JSON.stringify({ totalLevels: panel.dataset.totalLevels, maxRegion: panel.dataset.maxRegion }),
            );
        }
        return Object.freeze({ totalLevels: totalLevels, maxRegion: maxRegion });
    }

    function parts(root) {
        const q = (selector) => root.querySelector(selector);
        return {
            panel: q(".dazdm-bands"),
            suggest: q(".dazdm-bands-suggest"),
            add: q(".dazdm-bands-add"),
            mode: q(".dazdm-bands-mode"),
            total: q(".dazdm-bands-total"),
            number: q(".dazdm-bands-number"),
            hint: q(".dazdm-bands-hint"),
            table: q(".dazdm-bands-table"),
            body: q(".dazdm-bands-table tbody"),
            problem: q(".dazdm-bands-problem"),
            regions: q(".dazdm-bands-regions"),
            parts: q(".dazdm-bands-parts"),
            minArea: q(".dazdm-bands-min-area"),
            size: q(".dazdm-bands-size"),
        };
    }

    function view(prefix) {
        const data = ns.viewOf(prefix);
        return data && data.key !== null && data.key !== undefined && data.bands ? data : null;
    }

    /** The plan changed here: show it, redraw the histogram and have the live path send it (`suggest`: with a
     * request for suggested bands). */
    function edited(prefix, plan, suggest) {
        const s = bandState(prefix);
        s.plan = plan;
        s.suggestNote = null; // an edit, or a new suggestion, replaces what the last suggestion said
        render(prefix);
        ns.emit(prefix, "dazdm:bands", plan);
        ns.emit(prefix, "dazdm:bands-edit", { plan: plan, suggest: Boolean(suggest) });
    }

    /** The Add split mode turned on or off: show it, and tell the histogram's pointer input. */
    function setAddMode(prefix, on) {
        const s = bandState(prefix);
        s.addMode = on;
        ns.emit(prefix, "dazdm:add-mode", { on: on });
    }

    function percent(share) {
        if (!share) {
            return "0 %";
        }
        const value = share * 100;
        return value < 0.1 ? "< 0.1 %" : (value >= 10 ? value.toFixed(0) : value.toFixed(1)) + " %";
    }

    /** Set an input's value unless the user is typing in it. */
    function show(input, value) {
        if (input && input !== document.activeElement && input.value !== value) {
            input.value = value;
        }
    }

    /** A band's row; its levels and region inputs end at the panel's limits. */
    function makeRow(limits) {
        const row = document.createElement("tr");
        row.innerHTML =
            '<td><input type="color" class="dazdm-band-colour" aria-label="test colour"></td>' +
            '<td class="dazdm-band-name"></td>' +
            '<td class="dazdm-band-range"></td>' +
            '<td class="dazdm-band-share"></td>' +
            '<td><input type="number" class="dazdm-band-levels" min="0" step="1" aria-label="levels"></td>' +
            '<td><input type="checkbox" class="dazdm-band-lock" aria-label="keep these levels"></td>' +
            '<td><input type="text" class="dazdm-band-label" placeholder="what it holds" aria-label="label"></td>' +
            '<td><input type="number" class="dazdm-band-region" min="0" step="1" placeholder="none" ' +
            'aria-label="region"></td>' +
            '<td><button type="button" class="dazdm-band-remove" title="Remove this band: merge it with the band ' +
            'behind it">✕</button></td>';
        row.querySelector(".dazdm-band-levels").max = String(limits.totalLevels);
        row.querySelector(".dazdm-band-region").max = String(limits.maxRegion);
        return row;
    }

    function render(prefix) {
        const root = ns.root(prefix);
        if (!root) {
            return;
        }
        const p = parts(root);
        if (!p.panel) {
            return;
        }
        const s = bandState(prefix);
        const data = view(prefix);
        const plan = data ? s.plan : null;
        [p.suggest, p.add, p.mode, p.number].forEach(function (control) {
            if (control) {
                control.disabled = !plan;
            }
        });
        if (p.add) {
            p.add.setAttribute("aria-pressed", s.addMode ? "true" : "false");
        }
        if (!plan) {
            p.table.hidden = true;
            p.regions.hidden = true;
            p.total.textContent = "";
            p.problem.textContent = "";
            p.hint.hidden = false;
            return;
        }
        const several = plan.bands.length > 1;
        p.hint.hidden = several;
        p.table.hidden = !several;
        p.regions.hidden = !several;
        show(p.mode, plan.mode);
        const total = model.total(plan);
        p.total.textContent = several ? "levels " + total + " / " + s.limits.totalLevels : "";
        p.total.classList.toggle("dazdm-error", several && total !== s.limits.totalLevels);
        const errors = [s.localProblem, plan.problem].filter(Boolean).map((text) => "⚠ " + text);
        const notes = (plan.notes || []).concat(s.regionNotes || []);
        // one band: only what Suggest bands found (nothing), until the next answer
        p.problem.textContent = several ? errors.concat(notes).join("  ·  ") : s.suggestNote || "";
        p.problem.classList.toggle("dazdm-error", errors.length > 0);
        if (p.parts) {
            p.parts.checked = Boolean(plan.split_parts);
        }
        show(p.minArea, plan.min_area ? String(plan.min_area) : "");
        if (p.size && p.size !== document.activeElement && !s.localProblem) {
            p.size.value = plan.region_size ? plan.region_size[0] + "x" + plan.region_size[1] : "";
        }
        if (!several) {
            p.body.textContent = "";
            return;
        }
        while (p.body.rows.length < plan.bands.length) {
            p.body.appendChild(makeRow(s.limits));
        }
        while (p.body.rows.length > plan.bands.length) {
            p.body.deleteRow(-1);
        }
        const ranges = model.ranges(plan, data, ns.cutoffs(root));
        plan.bands.forEach(function (band, i) {
            const row = p.body.rows[i];
            row.dataset.band = String(i);
            row.classList.toggle("dazdm-band-outside", band.active === false);
            row.title = band.active === false ? "outside the cutoffs: ignored until they take this band in again" : "";
            show(row.querySelector(".dazdm-band-colour"), band.shown_colour || "#808080");
            row.querySelector(".dazdm-band-name").textContent = String(i + 1);
            const range = ranges[i];
            row.querySelector(".dazdm-band-range").textContent = range
                ? ns.formatDepth(range[0]) + " – " + ns.formatDepth(range[1])
                : "outside";
            row.querySelector(".dazdm-band-share").textContent = percent(band.share);
            show(row.querySelector(".dazdm-band-levels"), String(band.levels));
            row.querySelector(".dazdm-band-lock").checked = Boolean(band.locked);
            show(row.querySelector(".dazdm-band-label"), band.label || "");
            const region = band.region === null || band.region === undefined ? "" : String(band.region);
            show(row.querySelector(".dazdm-band-region"), region);
        });
    }

    /** A whole number from an input, within [lo, hi]; undefined when it is not one ("" gives null). */
    function whole(input, lo, hi) {
        if (input.value.trim() === "") {
            return null;
        }
        const value = Number(input.value);
        return Number.isInteger(value) && value >= lo && value <= hi ? value : undefined;
    }

    ns.concerns.push(function setupBands(root) {
        const prefix = root.id;
        const p = parts(root);
        if (!p.panel) {
            return;
        }
        const s = bandState(prefix);
        s.limits = limitsOf(p.panel);

        function current() {
            return view(prefix) ? s.plan : null;
        }

        p.body.addEventListener("input", function (event) {
            const plan = current();
            const row = event.target.closest("tr");
            if (!plan || !row) {
                return;
            }
            const i = Number(row.dataset.band);
            const target = event.target;
            if (target.classList.contains("dazdm-band-colour")) {
                edited(prefix, model.setBand(plan, i, { colour: target.value, shown_colour: target.value }));
            } else if (target.classList.contains("dazdm-band-levels")) {
                const levels = whole(target, 0, s.limits.totalLevels);
                if (levels !== undefined && levels !== null) {
                    edited(prefix, model.setBand(plan, i, { levels: levels }));
                }
            }
        });
        p.body.addEventListener("change", function (event) {
            const plan = current();
            const row = event.target.closest("tr");
            if (!plan || !row) {
                return;
            }
            const i = Number(row.dataset.band);
            const target = event.target;
            if (target.classList.contains("dazdm-band-lock")) {
                edited(prefix, model.setBand(plan, i, { locked: target.checked }));
            } else if (target.classList.contains("dazdm-band-label")) {
                edited(prefix, model.setBand(plan, i, { label: target.value.replace(/[\r\n]+/g, " ").trim() }));
            } else if (target.classList.contains("dazdm-band-region")) {
                const region = whole(target, 0, s.limits.maxRegion);
                if (region === undefined) {
                    target.value = plan.bands[i].region === null ? "" : String(plan.bands[i].region);
                    return;
                }
                edited(prefix, model.setBand(plan, i, { region: region }));
            }
        });
        p.body.addEventListener("click", function (event) {
            const plan = current();
            const button = event.target.closest(".dazdm-band-remove");
            if (plan && button) {
                edited(prefix, model.removeBand(plan, Number(button.closest("tr").dataset.band)));
            }
        });
        p.mode.addEventListener("change", function () {
            const plan = current();
            if (plan) {
                edited(prefix, Object.assign(model.copy(plan), { mode: p.mode.value }));
            }
        });
        p.suggest.addEventListener("click", function () {
            const plan = current();
            if (plan) {
                edited(prefix, plan, true);
            }
        });
        p.number.addEventListener("click", function () {
            const plan = current();
            if (plan) {
                edited(prefix, model.numberRegions(plan));
            }
        });
        p.add.addEventListener("click", function () {
            setAddMode(prefix, !s.addMode);
            render(prefix);
        });
        p.parts.addEventListener("change", function () {
            const plan = current();
            if (plan) {
                edited(prefix, Object.assign(model.copy(plan), { split_parts: p.parts.checked }));
            }
        });
        p.minArea.addEventListener("change", function () {
            const plan = current();
            const area = whole(p.minArea, 0, 1e9);
            if (plan && area !== undefined) {
                edited(prefix, Object.assign(model.copy(plan), { min_area: area || 0 }));
            }
        });
        p.size.addEventListener("change", function () {
            const plan = current();
            const size = model.parseSize(p.size.value);
            s.localProblem =
                size === undefined ? "region map size: type WIDTHxHEIGHT, e.g. 512x768, or leave it empty" : null;
            if (plan && size !== undefined) {
                edited(prefix, Object.assign(model.copy(plan), { region_size: size }));
            } else {
                render(prefix);
            }
        });

        root.addEventListener("dazdm:split-add", function (event) {
            const plan = current();
            const data = view(prefix);
            if (!plan || !data) {
                return;
            }
            setAddMode(prefix, false);
            const added = model.addSplit(plan, event.detail.depth, data, ns.cutoffs(root));
            if (added) {
                edited(prefix, added);
            } else {
                render(prefix);
            }
        });
        root.addEventListener("dazdm:split-move", function (event) {
            const plan = current();
            const data = view(prefix);
            if (plan && data) {
                edited(prefix, model.moveSplit(plan, event.detail.index, event.detail.depth, data, ns.cutoffs(root)));
            }
        });
        root.addEventListener("dazdm:view", function (event) {
            const data = event.detail;
            s.plan = data && data.bands ? model.copy(data.bands) : null;
            setAddMode(prefix, false);
            s.localProblem = null;
            s.regionNotes = [];
            s.suggestNote = null;
            render(prefix);
            ns.emit(prefix, "dazdm:bands", s.plan);
        });
        root.addEventListener("dazdm:reply", function (event) {
            const reply = event.detail.reply;
            const data = view(prefix);
            if (!reply || !reply.bands || !data || reply.key !== data.key || reply.view !== data.view) {
                return;
            }
            if (event.detail.superseded) {
                return; // newer values (an edit, a cutoff) are on their way: their answer will be shown
            }
            s.plan = model.copy(reply.bands);
            s.regionNotes = reply.look === "regions" ? reply.region_notes || [] : [];
            if (reply.suggested) {
                s.suggestNote = reply.suggest_note || null; // kept through the answers that follow, until an edit
            }
            render(prefix);
            ns.emit(prefix, "dazdm:bands", s.plan);
        });
        root.addEventListener("dazdm:cutoffs", function () {
            render(prefix); // the ranges of the first and last band follow the cutoffs
        });
    });
})();
