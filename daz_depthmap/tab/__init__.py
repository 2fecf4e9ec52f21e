"""The tab, one builder for the standalone app and the WebUI: the host contract (:mod:`.contract`), the components
built section by section (:mod:`.layout`) with their texts (:mod:`.texts`), the handlers (:mod:`.handlers`), the
events between them (:mod:`.wiring`, whose :func:`~.wiring.build_tab` returns the ``gr.Blocks``), and gradio 3/4
differences (:mod:`.compat`)."""
