/* DAZ depth map tab: the live preview's fast path, the server's preview route.
 *
 * The live path (daz_depthmap_live.js) announces each request with a dazdm:live-request event; this file takes it
 * (sets detail.taken) when the route can serve it: it POSTs the request to daz-depthmap/v1/preview, draws the
 * preview PNGs the answer carries straight into the preview images, and hands the reply back with
 * dazdm:route-reply. When the route is missing (an older server, a proxy that blocks it) or refuses the request
 * (a session the server no longer has), it hands the request back with dazdm:route-failed, and the live path sends
 * it through gradio's event, as without this file; a missing route is not asked again.
 *
 * The answer: a little-endian uint32 length, the reply JSON, then the PNGs named in reply.images. The images are
 * drawn by pointing the gradio <img> at a blob URL; gradio's own next update of that image (the live path's final
 * one through gradio, an option change) points it back at the server's file.
 */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];

    const PATH = "daz-depthmap/v1/preview";

    /** prefix -> the route's state for that tab: the route is missing, the pictures' blob URLs, the newest picture
     * drawn. This file's own. */
    const states = new Map();

    function routeState(prefix) {
        let s = states.get(prefix);
        if (!s) {
            s = { missing: false, urls: {}, drawnSeq: 0 };
            states.set(prefix, s);
        }
        return s;
    }

    /** The <img> a preview is drawn into, or null when gradio shows none (no value yet, or hidden). */
    function previewImage(root, prefix, name) {
        return root.querySelector("#" + CSS.escape(prefix + "_preview_" + name) + " img");
    }

    function draw(root, prefix, name, bytes) {
        const img = previewImage(root, prefix, name);
        if (!img) {
            return false;
        }
        const state = routeState(prefix);
        const url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
        const old = state.urls[name];
        state.urls[name] = url;
        img.src = url;
        if (old) {
            setTimeout(function () {
                URL.revokeObjectURL(old); // after the new picture replaced it
            }, 1000);
        }
        return true;
    }

    function unpack(buffer) {
        const view = new DataView(buffer);
        const length = view.getUint32(0, true);
        const reply = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
        const images = {};
        let offset = 4 + length;
        (reply.images || []).forEach(function (image) {
            images[image.name] = new Uint8Array(buffer, offset, image.bytes);
            offset += image.bytes;
        });
        return { reply: reply, images: images };
    }

    async function post(root, prefix, request) {
        const state = routeState(prefix);
        const view = ns.viewOf(prefix);
        try {
            const response = await fetch(new URL(PATH, document.baseURI), {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify(Object.assign({ session: view && view.session }, request)),
                credentials: "same-origin",
            });
            if (!response.ok) {
                if (response.status === 404 || response.status === 405) {
                    const text = await response.text();
                    state.missing = text.indexOf("session") < 0; // not our route's "no such session"
                }
                throw new Error("preview route: HTTP " + response.status);
            }
            const answer = unpack(await response.arrayBuffer());
            if (answer.reply.seq < state.drawnSeq) {
                answer.images = {}; // overtaken (a slow render answered late): the newer picture stays
            }
            Object.keys(answer.images).forEach(function (name) {
                if (!draw(root, prefix, name, answer.images[name])) {
                    answer.reply.undrawn = true; // the page shows no image there yet: gradio's path must
                }
            });
            if (Object.keys(answer.images).length) {
                state.drawnSeq = answer.reply.seq;
            }
            ns.emit(prefix, "dazdm:route-reply", answer.reply);
        } catch (error) {
            ns.emit(prefix, "dazdm:route-failed", request);
        }
    }

    ns.concerns.push(function setupPreviewRoute(root) {
        const prefix = root.id;
        root.addEventListener("dazdm:live-request", function (event) {
            const detail = event.detail;
            if (detail.taken || detail.viaGradio || routeState(prefix).missing || !window.fetch) {
                return;
            }
            const view = ns.viewOf(prefix);
            if (!view || !view.session || !previewImage(root, prefix, "depth")) {
                return; // nothing drawn yet: the first picture comes through gradio
            }
            detail.taken = true;
            post(root, prefix, detail.request);
        });
    });
})();
