"""The session layer: one user's loaded files and options (:mod:`.workspace`), what a preview needs of each file
(:mod:`.loaded`), the JSON the page reads (:mod:`.view`), writing outputs (:mod:`.batch`), and the server's
bounded store of sessions addressed by token (:mod:`.store`). No gradio here: the tab and the HTTP routes share it.
"""
