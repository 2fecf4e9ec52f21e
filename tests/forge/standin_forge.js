// The Forge stand-in page's own scripts (written for these tests, after the behaviour of Forge's script.js,
// javascript/inputAccordion.js and ControlNet's javascript/active_units.js; see standin_forge.py).
//
// script.js: gradioApp(), onUiUpdate(), onUiLoaded() (run once #txt2img_prompt exists), updateInput().
function gradioApp() {
    const app = document.getElementsByTagName("gradio-app")[0];
    if (!app) return document;
    app.getElementById = (id) => document.getElementById(id); // as script.js does (no shadow root in gradio 4)
    return app.shadowRoot || app;
}
const standinUpdate = [], standinLoaded = [];
let standinLoadedDone = false;
function onUiUpdate(callback) { standinUpdate.push(callback); }
function onUiLoaded(callback) { standinLoaded.push(callback); }
function updateInput(target) {
    const event = new Event("input", { bubbles: true });
    Object.defineProperty(event, "target", { value: target });
    target.dispatchEvent(event);
}
document.addEventListener("DOMContentLoaded", function () {
    new MutationObserver(function (mutations) {
        if (!standinLoadedDone && gradioApp().querySelector("#txt2img_prompt")) {
            standinLoadedDone = true;
            standinLoaded.forEach((callback) => callback());
        }
        standinUpdate.forEach((callback) => callback(mutations));
    }).observe(gradioApp(), { childList: true, subtree: true });
});

// inputAccordion.js: a visible checkbox in each input accordion's header, linked to its open state until the user
// clicks it; it drives the hidden gradio checkbox (#<id>-checkbox), and a change of that one drives it back.
function inputAccordionChecked(id, checked) {
    const accordion = gradioApp().getElementById(id);
    accordion.visibleCheckbox.checked = checked;
    accordion.onVisibleCheckboxChange();
}
function standinSetupAccordion(accordion) {
    const labelWrap = accordion.querySelector(".label-wrap");
    const gradioCheckbox = gradioApp().querySelector(`#${accordion.id}-checkbox input`);
    const span = labelWrap.querySelector("span");
    let linked = true;
    const isOpen = () => labelWrap.classList.contains("open");
    new MutationObserver(() => {
        accordion.classList.toggle("input-accordion-open", isOpen());
        if (linked) {
            accordion.visibleCheckbox.checked = isOpen();
            accordion.onVisibleCheckboxChange();
        }
    }).observe(labelWrap, { attributes: true, attributeFilter: ["class"] });
    const visibleCheckbox = document.createElement("input");
    visibleCheckbox.type = "checkbox";
    visibleCheckbox.checked = isOpen();
    visibleCheckbox.id = `${accordion.id}-visible-checkbox`;
    visibleCheckbox.className = `${gradioCheckbox.className} input-accordion-checkbox`;
    span.insertBefore(visibleCheckbox, span.firstChild);
    accordion.visibleCheckbox = visibleCheckbox;
    accordion.onVisibleCheckboxChange = function () {
        if (linked && isOpen() !== visibleCheckbox.checked) labelWrap.click();
        gradioCheckbox.checked = visibleCheckbox.checked;
        updateInput(gradioCheckbox);
    };
    visibleCheckbox.addEventListener("click", (event) => {
        linked = false;
        event.stopPropagation();
    });
    visibleCheckbox.addEventListener("input", accordion.onVisibleCheckboxChange);
}
onUiLoaded(function () {
    for (const accordion of gradioApp().querySelectorAll(".input-accordion")) standinSetupAccordion(accordion);
});

// active_units.js: per unit, the header checkbox and Enable (.cnet-unit-enabled) follow each other through change
// events only; a file chosen in the unit's canvas ticks Enable; "N units" badge on the ControlNet accordion; on
// opening that accordion with no unit enabled or open, unit 0 opens.
onUiLoaded(function () {
    gradioApp().querySelectorAll("#controlnet").forEach((outer) => {
        const units = [...outer.querySelectorAll(".input-accordion")].map((unit) => {
            const header = unit.querySelector(".input-accordion-checkbox");
            const enable = unit.querySelector(".cnet-unit-enabled input");
            const file = unit.querySelector(".cnet-input-image-group .cnet-image input[type=file]");
            header.click(); // unlink the header checkbox from the open state, as ControlNet does
            header.click();
            const badge = () => {
                const span = outer.querySelector(".label-wrap span");
                span.querySelectorAll(".cnet-badge").forEach((b) => b.remove());
                const count = [...outer.querySelectorAll(".cnet-unit-enabled input")].filter((c) => c.checked).length;
                if (count) {
                    const div = document.createElement("div");
                    div.className = "cnet-badge primary";
                    div.textContent = `${count} unit${count > 1 ? "s" : ""}`;
                    span.appendChild(div);
                }
            };
            enable.addEventListener("change", () => {
                if (header.checked !== enable.checked) header.click();
                badge();
            });
            header.addEventListener("change", () => {
                if (enable.checked !== header.checked) enable.click();
            });
            file.addEventListener("change", (event) => {
                if (event.target.files && !enable.checked) enable.click();
            });
            return { unit, enable };
        });
        const label = outer.querySelector(".label-wrap");
        new MutationObserver(() => {
            const closed = (u) => !u.unit.querySelector(".label-wrap").classList.contains("open");
            if (label.classList.contains("open") && units.every((u) => !u.enable.checked && closed(u))) {
                units[0].unit.querySelector(".label-wrap").click();
            }
        }).observe(label, { attributes: true, attributeFilter: ["class"] });
    });
});
