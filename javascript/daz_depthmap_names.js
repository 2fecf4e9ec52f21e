/* DAZ depth map tab: tooltips for gradio's components. The options' help shows as one line (style.css cuts it);
 * the whole text is the option's tooltip. Keeps no state and talks to no other file. */
(function () {
    "use strict";

    const ns = (window.dazDepthmap = window.dazDepthmap || {});
    ns.concerns = ns.concerns || [];

    /** Each option checkbox's help text becomes the tooltip of its block (gradio 3 and 4 render the help apart). */
    function helpTooltips(root) {
        root.querySelectorAll(".dazdm-checks .block").forEach(function (block) {
            const help = block.querySelector(":scope > div:not(.wrap), [data-testid='block-info']");
            if (help && help.textContent.trim()) {
                block.title = help.textContent.trim();
            }
        });
    }

    ns.concerns.push(helpTooltips);
})();
