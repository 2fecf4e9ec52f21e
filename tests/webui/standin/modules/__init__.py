"""A stand-in for the parts of the AUTOMATIC1111 WebUI (1.10.1) ``modules`` package the extension touches.

Written for these tests to the WebUI's signatures (not copied from it); ``tests/webui/conftest.py`` puts it on
``sys.path`` for one test and takes it away again.
"""
