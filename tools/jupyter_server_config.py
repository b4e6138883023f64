"""Jupyter server config for the course, the part JSON cannot say: RISE's stylesheets.

RISE (jupyterlab-rise 0.43) links two stylesheets next to the presented notebook,
``files/<folder>/rise.css`` and ``files/<folder>/<notebook>.css``, and has no setting to
turn that off: without the files every slideshow logs two 404s. Rather than copying CSS
into every generated folder (notebooks/, solutions/, labs/, my_labs/), the server answers
these two names itself when there is no such file: ``rise.css`` is the course's slide
stylesheet (``tools/rise.css``, installed next to this file as ``mlops_course_rise.css``),
``<notebook>.css`` an empty stylesheet. A real file of that name is served as usual.

Installed into ``<venv>/etc/jupyter/`` by ``make venv`` and Binder's ``postBuild``, next to
``jupyter_server_config.json`` (the save hook); checked by ``tests/browser/test_slides.py``.
"""

import os

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import AuthenticatedFileHandler
from tornado import web

COURSE_RISE_CSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mlops_course_rise.css")


class CourseFilesHandler(AuthenticatedFileHandler):
    """``/files/``, plus RISE's two stylesheets where the folder has none."""

    def rise_stylesheet(self, path: str) -> str | None:
        """The CSS to answer for a missing RISE stylesheet, or None to serve ``path`` as is."""
        folder, name = os.path.split(path.strip("/"))
        root = os.path.abspath(self.root)
        local = os.path.abspath(os.path.join(root, folder, name))
        if not name.endswith(".css") or not local.startswith(root) or os.path.exists(local):
            return None
        if name == "rise.css":
            with open(COURSE_RISE_CSS, encoding="utf-8") as stylesheet:
                return stylesheet.read()
        if os.path.isfile(local[: -len(".css")] + ".ipynb"):
            return "/* no stylesheet of its own for this notebook */\n"
        return None

    @web.authenticated
    @authorized
    async def get(self, path: str, include_body: bool = True) -> None:
        css = self.rise_stylesheet(path)
        if css is None:
            await super().get(path, include_body=include_body)
            return
        self.set_header("Content-Type", "text/css; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(css)


c = get_config()  # noqa: F821 (defined by the config loader)
c.ContentsManager.files_handler_class = CourseFilesHandler
