"""Skeleton rendering from layout data: DWPose / ControlNet-style frames (default) or each
layout's own look; PNG, GIF and MP4 output, overlays on the source video, side-by-side views.

Drawing uses OpenCV and files use Pillow / PyAV, all imported on use (``pip install
'signverse[render]'``).
"""
from signverse.render.draw import draw, prepare, render_frame, render_frames
from signverse.render.output import (WRITERS, Renderer, contact_sheet, label, render_to, save_gif,
                                     save_mp4, save_png)
from signverse.render.style import STYLES, ComponentStyle, Style, draw_plan

__all__ = ["ComponentStyle", "Renderer", "STYLES", "Style", "WRITERS", "contact_sheet", "draw",
           "draw_plan", "label", "prepare", "render_frame", "render_frames", "render_to",
           "save_gif", "save_mp4", "save_png"]
