// Sends into the WebUI's page, the page's part (daz_depthmap/bridges/send.py runs the steps and says what to do).
//
// An image that lands in a ControlNet unit while the unit is hidden stays blank, so before Python delivers it this
// script shows the target: it selects every tab and opens every accordion around it (the WebUI tab, the ControlNet
// accordion, the unit tab) and ticks img2img's "Upload independent control image" (which clears the image). After
// the image landed, it waits until the target holds it the way the target's own listeners read it (see settle)
// and ticks Enable the way a user does. Elements are found by element id; tabs and accordions by gradio's
// structure. Each step writes a report; Python stops the send at a failed one. The steps are
// dazDepthmap.send.reveal and dazDepthmap.send.settle (daz_depthmap/webui/send/steps.py calls them).
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});

    const WAIT_MS = 8000; // for the target to show, and for its image to settle

    function root() {
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    function byId(id) {
        return id ? root().querySelector("#" + CSS.escape(id)) : null;
    }

    function sleep(ms) {
        return new Promise((resolve) => setTimeout(resolve, ms));
    }

    function frame() {
        return new Promise((resolve) => requestAnimationFrame(() => resolve()));
    }

    function shown(element) {
        return !!element && element.getClientRects().length > 0;
    }

    async function until(test, ms) {
        for (const end = Date.now() + ms; Date.now() < end; ) {
            if (test()) return true;
            await frame();
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
            if (click()) await frame();
        }
    }

    async function showTarget(step) {
        for (const id of step.show || []) {
            const element = byId(id);
            if (!element) return { ok: false, error: `#${id} is not on the page` };
            await reveal(element);
        }
        if (step.tick) {
            const box = byId(step.tick) && byId(step.tick).querySelector("input[type=checkbox]");
            if (!box) return { ok: false, error: `the checkbox #${step.tick} is not on the page` };
            if (!box.checked) box.click();
        }
        const wait = step.wait || (step.show || [])[0];
        if (!(await until(() => shown(byId(wait)), WAIT_MS))) {
            return { ok: false, error: `#${wait} did not appear` };
        }
        byId(wait).scrollIntoView({ block: "center" });
        return { ok: true };
    }

    // The delivered image shows at its own size in the target.
    function shownImage(element, size) {
        return element
            ? Array.from(element.querySelectorAll("img")).find(
                  (i) => i.complete && i.naturalWidth === size[0] && i.naturalHeight === size[1],
              ) || null
            : null;
    }

    // gradio 3's sketch tool (ControlNet's unit image): its four canvases, by their `key` attribute.
    function sketchCanvases(element) {
        const canvases = {};
        element.querySelectorAll("canvas[key]").forEach((c) => (canvases[c.getAttribute("key")] = c));
        return canvases.mask ? canvases : null;
    }

    // gradio 3.41's sketch tool sizes its canvases from a ResizeObserver callback that it ignores when it comes
    // more than 10 ms after the image (Sketch.svelte's handle_canvas_resize): on a busy page the canvases then
    // keep the browser's default 300x150, and the mask ControlNet reads back has that size for good. Size them as
    // the tool would have: the mask at the image's size, the others at the device pixel ratio, all drawn at the
    // image's displayed size.
    function sizeCanvases(canvases, img, size) {
        const dpr = window.devicePixelRatio || 1;
        const height = img.getBoundingClientRect().height;
        for (const [name, canvas] of Object.entries(canvases)) {
            const scale = name === "mask" ? 1 : dpr;
            canvas.width = size[0] * scale;
            canvas.height = size[1] * scale;
            if (scale !== 1) canvas.getContext("2d").scale(scale, scale);
            canvas.style.width = `${(height * size[0]) / size[1]}px`;
            canvas.style.height = `${height}px`;
        }
    }

    // Wait until the target holds the image as its listeners read it. A plain image: it shows. The sketch tool
    // (`sketch`): its value stays the bare image (which ControlNet's listeners refuse) until the tool hands gradio
    // its {image, mask} on the image's load event; we fire that event once the canvases have the image's size and
    // wait until the tool has read its mask canvas at that size.
    async function settle(element, size, sketch) {
        const ready = () => shownImage(element, size) && (!sketch || sketchCanvases(element));
        if (!(await until(ready, WAIT_MS))) return { ok: false, error: "the target did not show the sent image" };
        if (!sketch) return { ok: true };
        const img = shownImage(element, size);
        const canvases = sketchCanvases(element);
        const mask = canvases.mask;
        const repaired = mask.width !== size[0] || mask.height !== size[1];
        if (repaired) sizeCanvases(canvases, img, size);
        let handed = false;
        const read = mask.toDataURL;
        mask.toDataURL = function (...args) {
            handed = handed || (this.width === size[0] && this.height === size[1]);
            return read.apply(this, args);
        };
        try {
            img.dispatchEvent(new Event("load"));
            if (!(await until(() => handed, WAIT_MS))) {
                return { ok: false, error: "the sketch tool did not take the sent image" };
            }
        } finally {
            delete mask.toDataURL; // back to the canvas' own method
        }
        await frame(); // gradio stores the value and tells its listeners on the next tick
        await frame();
        return { ok: true, repaired: repaired };
    }

    function parse(text) {
        try {
            return text ? JSON.parse(text) : null;
        } catch (error) {
            return null;
        }
    }

    function stepOf(args, at) {
        const plan = parse(args[at.plan]);
        return plan && plan.steps ? plan.steps[at.slot] || null : null;
    }

    ns.send = {
        // Before a pair's image: show its target; the report goes into the report input.
        async reveal(args, at) {
            const step = stepOf(args, at);
            if (!step) return args;
            let report;
            try {
                report = await showTarget(step);
            } catch (error) {
                report = { ok: false, error: `the page script failed: ${error}` };
            }
            const out = args.slice();
            out[at.report] = JSON.stringify(report);
            return out;
        },

        // After a pair's image was delivered: wait until the target holds it as its listeners read it (see
        // settle), then tick Enable the way a user does (ControlNet's own script then updates its unit badge;
        // Python sets the value too). The outcome goes into the report input.
        async settle(args, at) {
            const step = stepOf(args, at);
            if (!step) return args;
            let report = { ok: true };
            try {
                if (step.wait) report = await settle(byId(step.wait), step.size, step.sketch);
                const box = byId(step.enable) && byId(step.enable).querySelector("input[type=checkbox]");
                if (report.ok && box && !box.checked) box.click();
            } catch (error) {
                report = { ok: false, error: `the page script failed: ${error}` };
            }
            const out = args.slice();
            out[at.report] = JSON.stringify(report);
            return out;
        },
    };
})();
