"""Every text of the tab in one place: labels, hints, the intro, and the HTML of the histogram and the band panel
(the page scripts fill them in). The builder (:mod:`.layout`) and the handlers (:mod:`.handlers`) read them here."""

from __future__ import annotations

from ..bands.plan import MAX_REGION, TOTAL_LEVELS

BITS_CHOICES = ("8-bit", "16-bit")
PICK_HINT = "Click the preview to read the depth under the cursor."
INTRO = (
    "**DAZ Depth** turns a depth render (DAZ Studio's Iray *Depth* canvas, any float EXR) into a ControlNet depth "
    "map: drop EXRs, set the far cutoff just behind your subject on the histogram, save. PNGs go to `{folder}`."
)
SEED_LABEL = "Noise seed (drawn for this file so preview and PNG match; type another for other noise)"
#: The option checkboxes, two per row, by option name.
CHECKBOX_ROWS = (("compress_map", "mask"), ("invert", "noise"))
#: Height of the preview images on the page, in CSS pixels.
PREVIEW_HEIGHT = 520
#: What the preview shows, by look (:data:`daz_depthmap.session.banding.LOOKS`).
LOOK_LABELS = {"depth": "Depth map", "test": "Test colours", "regions": "Region map"}
#: The preview's label for each look.
PREVIEW_LABELS = {
    "depth": "Depth map preview",
    "test": "Test colours: each band in its colour, shaded by depth",
    "regions": "Region map preview: what Regional Prompter gets",
}
#: The normal encodings offered (daz_depthmap.canvas.normals.options.CONVENTIONS).
NORMAL_CONVENTIONS = ("bae", "sd15")
NORMAL_HELP = (
    "Drop a render's canvases together — `scene-Canvas1-Depth.exr`, `scene-Canvas2-Normal.exr`, `scene.png` (or a "
    "Beauty canvas) — and they are one entry: Save also writes `scene.normal.png` (and `scene.beauty.png` from a "
    "Beauty canvas)."
)
#: How Process all maps the files.
PROCESS_CHOICES = ("each file with its own settings", "every file with this file's recipe")

BANDS_HTML = """
<div class="dazdm-bands" data-max-region="{max_region}" data-total-levels="{total_levels}">
  <div class="dazdm-bands-bar">
    <span class="dazdm-bands-title">Depth bands</span>
    <button type="button" class="dazdm-bands-suggest" disabled
      title="Split at the histogram's near-empty gaps: one band, and one region, per subject">Suggest bands</button>
    <button type="button" class="dazdm-bands-add" aria-pressed="false" disabled
      title="The next click on the histogram adds a split there (Ctrl+click always does)">Add split</button>
    <label class="dazdm-bands-mode-label">Levels
      <select class="dazdm-bands-mode" disabled>
        <option value="pixels">by pixel share</option>
        <option value="depth">by depth span</option>
        <option value="equal">equally</option>
        <option value="manual">as typed</option>
      </select>
    </label>
    <span class="dazdm-bands-total"></span>
    <button type="button" class="dazdm-bands-number" disabled
      title="Every band that holds pixels a region, 0, 1, 2... from near to far">Number regions</button>
  </div>
  <div class="dazdm-bands-hint">One band: the plain map. Ctrl+click the histogram (or Add split, then click) to
    split the depth range; drag a split line to move it. Each band gets its own share of the grey levels.</div>
  <table class="dazdm-bands-table" hidden>
    <thead><tr><th>Colour</th><th>Band</th><th>Depths</th><th>Pixels</th><th>Levels</th><th>Lock</th><th>Label</th>
      <th>Region</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
  <div class="dazdm-bands-problem" role="alert"></div>
  <div class="dazdm-bands-regions" hidden>
    <label><input type="checkbox" class="dazdm-bands-parts"> each connected part its own region</label>
    <label>ignore parts under <input type="number" class="dazdm-bands-min-area" min="0" step="1"> px</label>
    <label>region map size <input type="text" class="dazdm-bands-size" placeholder="as the depth map" size="11"></label>
  </div>
</div>
"""

HISTOGRAM_HTML = """
<div class="dazdm-histo">
  <div class="dazdm-histo-bar">
    <span class="dazdm-histo-title">Depth histogram</span>
    <span class="dazdm-histo-caption"></span>
    <label class="dazdm-log-label"><input type="checkbox" class="dazdm-log" checked> log counts</label>
    <button type="button" class="dazdm-use-suggestion" disabled>Use suggestion</button>
  </div>
  <div class="dazdm-histo-plot">
    <canvas class="dazdm-histo-canvas" aria-label="Depth histogram: click or drag to set the far cutoff"></canvas>
    <div class="dazdm-tip" hidden></div>
    <div class="dazdm-histo-empty">Drop depth .exr files to see their histogram</div>
  </div>
</div>
"""


def loaded_said(set_files: list[int]) -> str:
    """What an upload loaded, from the number of files of each entry (1: a plain depth file, more: a canvas set):
    "Loaded 2 files.", "Loaded 1 set (3 files).", "Loaded 1 file and 1 set (3 files)." ("" for nothing)."""
    plain = sum(1 for n in set_files if n == 1)
    sets = [n for n in set_files if n > 1]
    said = [f"{plain} file{'s' if plain != 1 else ''}"] if plain else []
    if sets:
        said.append(f"{len(sets)} set{'s' if len(sets) != 1 else ''} ({sum(sets)} files)")
    return f"Loaded {' and '.join(said)}." if said else ""


def bands_html() -> str:
    """The band panel's HTML, carrying the numbers the page script shares with Python (the highest region number
    Regional Prompter takes, the grey levels of an 8-bit map) so the script never holds copies of them."""
    return BANDS_HTML.format(max_region=MAX_REGION, total_levels=TOTAL_LEVELS)
