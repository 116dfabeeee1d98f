"""The report's two human-readable files: ``sections`` holds what they say, ``markdown`` and ``html``
lay it out, ``plots`` draws the figures embedded in report.html."""
