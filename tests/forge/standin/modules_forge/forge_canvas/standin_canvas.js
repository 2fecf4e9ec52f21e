// The Forge stand-in's canvas controller (our own code, after the behaviour of Forge's canvas.min.js; see
// canvas.py). One per ForgeCanvas, made by a page-load event: new ForgeCanvas(uuid, noUpload, noScribbles,
// contrastScribbles, height).
(function () {
    "use strict";
    if (window.ForgeCanvas) return;

    // A hidden LogicalImage's textarea, written with an input event (gradio takes the value from it) and polled
    // every 100 ms for values gradio put there.
    class TextAreaBind {
        constructor(uuid, cls) {
            this.target = document.querySelector(`#${uuid}.${cls} textarea`);
            this.previous = "";
            this.lock = false;
        }
        set(value) {
            if (this.lock) return;
            this.lock = true;
            this.target.value = value;
            this.previous = value;
            const event = new Event("input", { bubbles: true });
            Object.defineProperty(event, "target", { value: this.target });
            this.target.dispatchEvent(event);
            this.lock = false;
        }
        listen(callback) {
            setInterval(() => {
                if (this.target.value === this.previous) return;
                this.previous = this.target.value;
                if (this.lock) return;
                this.lock = true;
                callback(this.target.value);
                this.lock = false;
            }, 100);
        }
    }

    class ForgeCanvas {
        constructor(uuid, noUpload = false, noScribbles = false, contrastScribbles = false, height = 512) {
            this.uuid = uuid;
            this.noUpload = noUpload;
            this.noScribbles = noScribbles;
            this.height = height;
            this.img = null;
            this.width0 = 0;
            this.height0 = 0;
            this.scale = 1;
            this.x = 0;
            this.y = 0;
            this.background = new TextAreaBind(uuid, "logical_image_background");
            this.foreground = new TextAreaBind(uuid, "logical_image_foreground");
            this.start();
        }
        el(name) {
            return document.getElementById(`${name}_${this.uuid}`);
        }
        start() {
            const container = this.el("container");
            const box = this.el("imageContainer");
            const drawing = this.el("drawingCanvas");
            container.style.height = `${this.height}px`;
            drawing.width = box.clientWidth;
            drawing.height = box.clientHeight;
            if (this.noScribbles) drawing.style.display = "none";
            if (this.noUpload) {
                this.el("uploadButton").style.display = "none";
                this.el("uploadHint").style.display = "none";
            }
            new ResizeObserver(() => {
                this.fit();
                this.draw();
            }).observe(container);
            this.el("imageInput").addEventListener("change", (event) => this.readFile(event.target.files[0]));
            this.el("uploadButton").addEventListener("click", () => this.el("imageInput").click());
            this.el("removeButton").addEventListener("click", () => this.remove());
            box.addEventListener("click", (event) => {
                if (!this.img && !this.noUpload && event.target !== this.el("imageInput")) this.el("imageInput").click();
            });
            this.background.listen((value) => this.load(value));
            this.foreground.listen((value) => this.loadDrawing(value));
        }
        readFile(file) {
            if (!file || this.noUpload) return;
            const reader = new FileReader();
            reader.onload = (event) => this.load(event.target.result);
            reader.readAsDataURL(file);
        }
        load(url) {
            if (typeof gradio_config === "undefined" || !String(gradio_config.version).startsWith("4")) return;
            if (!url) {
                this.img = null;
                const drawing = this.el("drawingCanvas");
                drawing.width = 1;
                drawing.height = 1;
                this.fit();
                this.draw();
                this.sendBackground();
                this.sendForeground();
                return;
            }
            const probe = new Image();
            probe.onload = () => {
                this.img = url;
                this.width0 = probe.width;
                this.height0 = probe.height;
                const drawing = this.el("drawingCanvas");
                if (drawing.width !== probe.width || drawing.height !== probe.height) {
                    drawing.width = probe.width;
                    drawing.height = probe.height;
                }
                this.fit();
                this.draw();
                this.sendBackground();
                this.sendForeground();
                this.el("imageInput").value = null;
                this.el("uploadHint").style.display = "none";
            };
            probe.src = url;
        }
        loadDrawing(url) {
            const drawing = this.el("drawingCanvas");
            const context = drawing.getContext("2d");
            if (!url) {
                context.clearRect(0, 0, drawing.width, drawing.height);
                return;
            }
            const probe = new Image();
            probe.onload = () => {
                context.clearRect(0, 0, drawing.width, drawing.height);
                context.drawImage(probe, 0, 0);
            };
            probe.src = url;
        }
        fit() {
            const box = this.el("imageContainer");
            const scale = Math.min((box.clientWidth - 32) / this.width0, (box.clientHeight - 32) / this.height0);
            this.scale = scale;
            this.x = (box.clientWidth - this.width0 * scale) / 2;
            this.y = (box.clientHeight - this.height0 * scale) / 2;
        }
        draw() {
            const image = this.el("image");
            const drawing = this.el("drawingCanvas");
            if (!this.img) {
                image.src = "";
                image.style.display = "none";
                return;
            }
            const width = `${this.width0 * this.scale}px`;
            const height = `${this.height0 * this.scale}px`;
            image.src = this.img;
            Object.assign(image.style, { width, height, left: `${this.x}px`, top: `${this.y}px`, display: "block" });
            Object.assign(drawing.style, { width, height, left: `${this.x}px`, top: `${this.y}px` });
        }
        remove() {
            this.img = null;
            const drawing = this.el("drawingCanvas");
            drawing.getContext("2d").clearRect(0, 0, drawing.width, drawing.height);
            const image = this.el("image");
            image.src = "";
            image.style.width = "0";
            image.style.height = "0";
            if (!this.noUpload) this.el("uploadHint").style.display = "block";
            this.sendForeground();
            this.sendBackground();
        }
        // The image as the canvas holds it, drawn from the <img> element at its own size, back into the
        // background (Forge's on_img_upload).
        sendBackground() {
            if (!this.img) {
                this.background.set("");
                return;
            }
            const canvas = document.createElement("canvas");
            canvas.width = this.width0;
            canvas.height = this.height0;
            canvas.getContext("2d").drawImage(this.el("image"), 0, 0, this.width0, this.height0);
            this.background.set(canvas.toDataURL("image/png"));
        }
        sendForeground() {
            this.foreground.set(this.img ? this.el("drawingCanvas").toDataURL("image/png") : "");
        }
    }

    window.ForgeCanvas = ForgeCanvas;
})();
