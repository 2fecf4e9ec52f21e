// Send to ControlNet, the page's part (daz_depthmap/controlnet.py runs the steps).
//
// An image that lands in ControlNet's unit while the unit is hidden stays blank, so before Python sends it this
// script shows the unit: it selects every tab and opens every accordion around it (the WebUI tab, the ControlNet
// accordion, the unit tab), ticks img2img's "Upload independent control image" (which clears the image) and waits
// until the image shows. Elements are found by element id only; tabs and accordions by gradio's structure.
(function () {
    "use strict";

    const WAIT_MS = 4000; // for ControlNet to show the image after the tick
    const SETTLE_MS = 250; // after the image landed, before Enable/preprocessor/model (its edit event settles)

    function root() {
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    function byId(id) {
        return id ? root().querySelector("#" + CSS.escape(id)) : null;
    }

    function sleep(ms) {
        return new Promise((resolve) => setTimeout(resolve, ms));
    }

    function shown(element) {
        return !!element && element.getClientRects().length > 0;
    }

    async function until(test, ms) {
        for (const end = Date.now() + ms; Date.now() < end; ) {
            if (test()) return true;
            await sleep(25);
        }
        return test();
    }

    // Clicks that show `element`, outermost first: a tab button for every hidden tab item around it, the label of
    // every closed accordion around it.
    function revealClicks(element) {
        const clicks = [];
        for (let node = element; node && node.parentElement; node = node.parentElement) {
            const parent = node.parentElement;
            if (node.classList.contains("tabitem") && parent.classList.contains("tabs")) {
                const items = Array.from(parent.children).filter((c) => c.classList.contains("tabitem"));
                const nav = Array.from(parent.children).find((c) => c.classList.contains("tab-nav"));
                const button = nav ? nav.children[items.indexOf(node)] : null;
                if (button) clicks.push(() => getComputedStyle(node).display === "none" && (button.click(), true));
            }
            const label = node.previousElementSibling;
            if (label && label.classList.contains("label-wrap")) {
                clicks.push(() => !label.classList.contains("open") && (label.click(), true));
            }
        }
        return clicks.reverse();
    }

    async function reveal(element) {
        for (const click of revealClicks(element)) {
            if (click()) await sleep(30);
        }
    }

    async function showUnit(plan) {
        for (const id of plan.show || []) {
            const element = byId(id);
            if (!element) return { ok: false, error: `#${id} is not on the page` };
            await reveal(element);
        }
        if (plan.tick) {
            const box = byId(plan.tick) && byId(plan.tick).querySelector("input[type=checkbox]");
            if (!box) return { ok: false, error: `the checkbox #${plan.tick} is not on the page` };
            if (!box.checked) box.click();
        }
        if (!(await until(() => shown(byId(plan.wait)), WAIT_MS))) {
            return { ok: false, error: `ControlNet's image #${plan.wait} did not appear` };
        }
        byId(plan.wait).scrollIntoView({ block: "center" });
        return { ok: true };
    }

    function parse(text) {
        try {
            return text ? JSON.parse(text) : null;
        } catch (error) {
            return null;
        }
    }

    window.dazDepthmapControlNet = {
        // Step 2's _js: show the unit the plan names; report how it went in the report input.
        async prepare(args, at) {
            const plan = parse(args[at.plan]);
            if (!plan) return args;
            let report;
            try {
                report = await showUnit(plan);
            } catch (error) {
                report = { ok: false, error: `the page script failed: ${error}` };
            }
            const out = args.slice();
            out[at.report] = JSON.stringify(report);
            return out;
        },

        // Step 3's _js: let the image settle, then tick Enable the way a user does (ControlNet's own script then
        // updates its unit badge; Python sets the value too).
        async settle(args, at) {
            const plan = parse(args[at.plan]);
            if (!plan) return args;
            await sleep(SETTLE_MS);
            const box = byId(plan.enable) && byId(plan.enable).querySelector("input[type=checkbox]");
            if (box && !box.checked) box.click();
            return args;
        },
    };
})();
