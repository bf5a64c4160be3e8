#!/usr/bin/env python3
"""Regenerate the illustrative frame images used by the example manifests.

This script is NOT part of shotlist and is not needed to build, test or run it.
It only exists so that the small committed images can be regenerated (or
tweaked) reproducibly. It needs Pillow (with WebP support), e.g.:

    python3 -m venv /tmp/frames-venv
    /tmp/frames-venv/bin/pip install pillow
    /tmp/frames-venv/bin/python manifests/frames/make_frames.py

It writes two sets of files, both relative to this script's location:

* ``manifests/frames/``        valid frames used by ``manifests/*.yaml``
  (simple flat illustrations: gradients and shapes, deterministic, no noise);
* ``tests/manifests/frames/``  fixtures for the manifest validation tests,
  both valid ones and deliberately invalid ones (too small, too wide,
  not an image, GIF, short side exactly 300 px).

The output is deterministic: no randomness, no timestamps, fixed encoder
settings. (Byte-for-byte identity across Pillow/libjpeg versions is not
guaranteed, but the pictures, sizes and formats are.)
"""

import math
import os

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_FRAMES = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "manifests", "frames"))


# ---------------------------------------------------------------- helpers


def lerp(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def vgradient(w, h, stops):
    """Vertical gradient through colour stops [(pos 0..1, (r, g, b)), ...]."""
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    for y in range(h):
        t = y / max(1, h - 1)
        for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
            if p0 <= t <= p1:
                d.line([(0, y), (w, y)], fill=lerp(c0, c1, (t - p0) / max(1e-9, p1 - p0)))
                break
    return img


def band(d, w, y0, y1, c0, c1):
    """Horizontal band [y0, y1) with its own vertical gradient."""
    for y in range(int(y0), int(y1)):
        t = (y - y0) / max(1, y1 - y0 - 1)
        d.line([(0, y), (w, y)], fill=lerp(c0, c1, t))


def figure(d, x, y, s, body, head=(236, 200, 170), cape=None):
    """A simple standing figure whose feet are at (x, y), height ~ 6*s."""
    if cape:
        d.polygon([(x - 1.6 * s, y), (x + 1.6 * s, y), (x + 0.5 * s, y - 4.6 * s), (x - 0.5 * s, y - 4.6 * s)], fill=cape)
    d.rounded_rectangle([x - 0.8 * s, y - 4.8 * s, x + 0.8 * s, y - 1.8 * s], radius=0.4 * s, fill=body)
    d.rectangle([x - 0.6 * s, y - 2.0 * s, x - 0.15 * s, y], fill=body)
    d.rectangle([x + 0.15 * s, y - 2.0 * s, x + 0.6 * s, y], fill=body)
    d.ellipse([x - 0.6 * s, y - 6.1 * s, x + 0.6 * s, y - 4.9 * s], fill=head)


def save(img, path, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fmt = os.path.splitext(path)[1].lower()
    if fmt == ".png":
        # A palette keeps flat illustrations tiny; gradients band a little.
        img.convert("RGB").quantize(colors=kw.pop("colors", 64), method=Image.Quantize.MEDIANCUT,
                                    dither=Image.Dither.NONE).save(path, optimize=True)
    elif fmt in (".jpg", ".jpeg"):
        img.convert("RGB").save(path, quality=kw.pop("quality", 72), optimize=True, progressive=False)
    elif fmt == ".webp":
        img.convert("RGB").save(path, quality=kw.pop("quality", 70), method=6)
    elif fmt == ".gif":
        img.convert("RGB").quantize(colors=32, dither=Image.Dither.NONE).save(path)
    else:
        raise ValueError(path)
    print(f"{os.path.relpath(path, os.path.join(HERE, '..', '..')):45s} {img.size[0]}x{img.size[1]}  {os.path.getsize(path):6d} bytes")


# ---------------------------------------------------------------- scenes


def subway_platform(w=1280, h=720, wall=(24, 58, 66), glow=(150, 240, 245), coat=(250, 205, 40), drums=False):
    img = vgradient(w, h, [(0, (8, 20, 26)), (0.55, wall), (1, (12, 16, 18))])
    d = ImageDraw.Draw(img)
    vx, vy = w * 0.62, h * 0.42  # vanishing point
    # tiled wall: horizontal courses converging to the vanishing point
    for i in range(1, 9):
        y = h * 0.05 * i
        d.line([(0, y), (vx, vy - (vy - y) * 0.15)], fill=(40, 90, 98), width=2)
    # platform floor and tracks
    d.polygon([(0, h), (w * 0.52, h), (vx, vy), (vx - 8, vy)], fill=(70, 74, 72))
    d.polygon([(w * 0.52, h), (w, h), (w, h * 0.85), (vx + 4, vy)], fill=(18, 22, 24))
    for off in (0.64, 0.84):
        d.line([(w * off, h), (vx + 2, vy)], fill=(140, 140, 130), width=4)
    d.line([(w * 0.52, h), (vx, vy)], fill=(230, 200, 60), width=6)  # safety line
    # route map and glowing vending machine
    d.rectangle([w * 0.08, h * 0.18, w * 0.26, h * 0.34], fill=(210, 200, 170))
    for k, c in enumerate([(200, 60, 50), (40, 120, 190), (60, 160, 90)]):
        d.line([(w * 0.09, h * (0.21 + 0.04 * k)), (w * 0.25, h * (0.23 + 0.03 * k))], fill=c, width=5)
    d.rectangle([w * 0.30, h * 0.38, w * 0.37, h * 0.74], fill=glow)
    d.rectangle([w * 0.312, h * 0.41, w * 0.358, h * 0.58], fill=(90, 190, 200))
    if drums:
        for cx, r in ((0.47, 0.07), (0.56, 0.05), (0.41, 0.045)):
            d.ellipse([w * cx - w * r, h * 0.70, w * cx + w * r, h * 0.86], fill=(170, 40, 60), outline=(240, 230, 220), width=4)
        figure(d, w * 0.49, h * 0.76, h * 0.045, body=(40, 40, 70), head=(220, 220, 240))
    else:
        figure(d, w * 0.42, h * 0.82, h * 0.035, body=coat)
    return img


def harbor(w=1280, h=720, end=False):
    sky = [(0, (250, 178, 150)), (0.45, (200, 215, 235))] if not end else [(0, (170, 200, 235)), (0.45, (235, 240, 250))]
    img = vgradient(w, h, sky + [(0.451, (60, 100, 130)), (1, (20, 45, 70))])
    d = ImageDraw.Draw(img)
    sun_y = h * (0.30 if not end else 0.16)
    d.ellipse([w * 0.70, sun_y, w * 0.78, sun_y + w * 0.08], fill=(255, 236, 200))
    # cranes on the dock
    for x in (0.08, 0.2):
        d.line([(w * x, h * 0.45), (w * x, h * 0.18)], fill=(60, 60, 70), width=8)
        d.line([(w * x - 40, h * 0.2), (w * x + 160, h * 0.2)], fill=(60, 60, 70), width=8)
    # ice sheets: together at the start, drifting apart at the end
    gap = 0 if not end else 26
    sheets = [(0.0, 0.55, 0.30, 0.62), (0.28, 0.60, 0.55, 0.70), (0.52, 0.52, 0.80, 0.60), (0.10, 0.74, 0.42, 0.86), (0.55, 0.76, 0.95, 0.90)]
    for i, (x0, y0, x1, y1) in enumerate(sheets):
        dx = gap * (i - 2)
        d.polygon([(w * x0 + dx, h * y0), (w * x1 + dx, h * y0 + 6), (w * x1 + dx - 30, h * y1), (w * x0 + dx + 20, h * y1 - 4)], fill=(225, 240, 248))
    # cargo ships
    for x, s in ((0.36, 1.0), (0.62, 0.7)):
        sx = x + (0.05 if end else 0)
        d.polygon([(w * sx, h * 0.52), (w * (sx + 0.2 * s), h * 0.52), (w * (sx + 0.18 * s), h * (0.52 + 0.05 * s)), (w * (sx + 0.01), h * (0.52 + 0.05 * s))], fill=(110, 35, 35))
        for k in range(4):
            d.rectangle([w * (sx + 0.03 * s + 0.035 * s * k), h * (0.52 - 0.03 * s), w * (sx + 0.06 * s + 0.035 * s * k), h * 0.52], fill=[(40, 90, 160), (200, 120, 40), (60, 130, 80), (180, 50, 50)][k])
    if end:  # a tugboat cutting a channel
        d.polygon([(w * 0.22, h * 0.70), (w * 0.30, h * 0.70), (w * 0.29, h * 0.73), (w * 0.23, h * 0.73)], fill=(230, 120, 30))
        d.line([(w * 0.30, h * 0.715), (w * 0.45, h * 0.70)], fill=(250, 250, 255), width=5)
    return img


def duelist(w=768, h=1152):
    img = vgradient(w, h, [(0, (60, 40, 110)), (0.35, (235, 120, 70)), (0.6, (250, 200, 120)), (1, (120, 60, 40))])
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.55, h * 0.40, w * 0.75, h * 0.40 + w * 0.2], fill=(255, 230, 170))
    d.polygon([(0, h * 0.45), (w * 0.25, h * 0.38), (w * 0.35, h), (0, h)], fill=(130, 60, 45))
    d.polygon([(w, h * 0.5), (w * 0.8, h * 0.44), (w * 0.7, h), (w, h)], fill=(110, 50, 40))
    d.polygon([(w * 0.15, h * 0.78), (w * 0.85, h * 0.74), (w, h * 0.8), (w, h), (0, h), (0, h * 0.8)], fill=(80, 40, 35))
    figure(d, w * 0.5, h * 0.77, h * 0.05, body=(40, 45, 70), cape=(170, 30, 45))
    d.line([(w * 0.53, h * 0.60), (w * 0.70, h * 0.50)], fill=(235, 235, 245), width=6)  # blade
    for k in range(3):  # hawks
        x, y = w * (0.2 + 0.12 * k), h * (0.15 + 0.04 * k)
        d.line([(x - 14, y - 6), (x, y), (x + 14, y - 6)], fill=(40, 25, 40), width=3)
    return img


def lead_actor(w=512, h=512):
    img = vgradient(w, h, [(0, (90, 120, 160)), (1, (30, 40, 60))])
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.12, h * 0.78, w * 0.88, h * 1.3], fill=(50, 70, 90))  # shoulders
    d.rectangle([w * 0.43, h * 0.62, w * 0.57, h * 0.82], fill=(214, 170, 140))  # neck
    d.ellipse([w * 0.28, h * 0.16, w * 0.72, h * 0.70], fill=(228, 186, 155))  # face
    d.chord([w * 0.26, h * 0.10, w * 0.74, h * 0.50], 180, 360, fill=(60, 40, 30))  # hair
    for ex in (0.40, 0.60):
        d.ellipse([w * (ex - 0.04), h * 0.39, w * (ex + 0.04), h * 0.44], fill=(250, 250, 250))
        d.ellipse([w * (ex - 0.018), h * 0.395, w * (ex + 0.018), h * 0.435], fill=(50, 35, 30))
        d.line([(w * (ex - 0.05), h * 0.36), (w * (ex + 0.05), h * 0.35)], fill=(70, 45, 35), width=5)
    d.line([(w * 0.5, h * 0.44), (w * 0.48, h * 0.53), (w * 0.52, h * 0.53)], fill=(180, 130, 110), width=3)
    d.arc([w * 0.42, h * 0.52, w * 0.58, h * 0.62], 20, 160, fill=(170, 70, 70), width=5)
    return img


def park_selfie(w=1280, h=720):
    img = vgradient(w, h, [(0, (120, 180, 235)), (0.6, (210, 235, 250)), (0.601, (110, 170, 80)), (1, (60, 120, 50))])
    d = ImageDraw.Draw(img)
    d.rectangle([w * 0.08, h * 0.25, w * 0.11, h * 0.62], fill=(100, 70, 40))
    d.ellipse([w * 0.0, h * 0.05, w * 0.2, h * 0.35], fill=(60, 130, 60))
    # bear
    d.ellipse([w * 0.50, h * 0.35, w * 0.72, h * 0.85], fill=(110, 70, 40))
    d.ellipse([w * 0.53, h * 0.16, w * 0.68, h * 0.40], fill=(120, 78, 45))
    for ex in (0.545, 0.665):
        d.ellipse([w * (ex - 0.02), h * 0.14, w * (ex + 0.02), h * 0.21], fill=(100, 62, 36))
    d.ellipse([w * 0.585, h * 0.28, w * 0.625, h * 0.36], fill=(200, 160, 120))
    for ex in (0.575, 0.635):
        d.ellipse([w * (ex - 0.007), h * 0.24, w * (ex + 0.007), h * 0.265], fill=(20, 15, 10))
    # man holding a phone up
    figure(d, w * 0.36, h * 0.9, h * 0.11, body=(200, 60, 60))
    d.line([(w * 0.38, h * 0.42), (w * 0.44, h * 0.22)], fill=(236, 200, 170), width=14)
    d.rectangle([w * 0.43, h * 0.14, w * 0.46, h * 0.22], fill=(30, 30, 40))
    return img


def museum(w=1024, h=576):
    img = vgradient(w, h, [(0, (60, 40, 25)), (0.7, (190, 140, 80)), (0.701, (120, 90, 60)), (1, (70, 50, 35))])
    d = ImageDraw.Draw(img)
    for x in (0.06, 0.22, 0.78, 0.94):
        d.rectangle([w * (x - 0.025), h * 0.05, w * (x + 0.025), h * 0.7], fill=(215, 195, 160))
    for k in range(6):  # light shafts
        d.polygon([(w * (0.30 + 0.05 * k), 0), (w * (0.33 + 0.05 * k), 0), (w * (0.40 + 0.04 * k), h * 0.7), (w * (0.37 + 0.04 * k), h * 0.7)], fill=(225, 180, 110))
    for k in range(7):  # ribs of a fossil skeleton
        d.arc([w * (0.25 + 0.05 * k), h * 0.12, w * (0.35 + 0.05 * k), h * 0.36], 180, 360, fill=(240, 230, 210), width=4)
    d.line([(w * 0.25, h * 0.24), (w * 0.70, h * 0.24)], fill=(240, 230, 210), width=5)
    d.rectangle([w * 0.44, h * 0.55, w * 0.56, h * 0.82], fill=(90, 80, 75))  # pedestal
    d.polygon([(w * 0.5, h * 0.33), (w * 0.54, h * 0.44), (w * 0.5, h * 0.55), (w * 0.46, h * 0.44)], fill=(70, 170, 150))  # relic
    d.line([(w * 0.48, h * 0.44), (w * 0.52, h * 0.44)], fill=(230, 220, 120), width=3)
    return img


def falconer(w=1024, h=576):
    img = vgradient(w, h, [(0, (250, 210, 120)), (0.5, (255, 235, 180)), (0.501, (230, 170, 90)), (1, (180, 110, 50))])
    d = ImageDraw.Draw(img)
    for k, c in enumerate([(220, 150, 80), (205, 130, 65), (190, 115, 55)]):
        pts = [(x, h * (0.55 + 0.1 * k) + 30 * math.sin(x / w * 6.28 * (1 + k * 0.5))) for x in range(0, w + 1, 16)]
        d.polygon(pts + [(w, h), (0, h)], fill=c)
    figure(d, w * 0.45, h * 0.78, h * 0.07, body=(80, 60, 90))
    d.polygon([(w * 0.44, h * 0.42), (w * 0.62, h * 0.36), (w * 0.60, h * 0.40), (w * 0.46, h * 0.45)], fill=(200, 30, 40))  # scarf
    d.line([(w * 0.47, h * 0.50), (w * 0.53, h * 0.40)], fill=(236, 200, 170), width=10)
    d.ellipse([w * 0.52, h * 0.33, w * 0.56, h * 0.40], fill=(110, 80, 50))  # hawk
    return img


def arcade(w=1024, h=576):
    img = vgradient(w, h, [(0, (20, 10, 40)), (0.6, (60, 30, 90)), (0.601, (30, 30, 70)), (1, (10, 10, 30))])
    d = ImageDraw.Draw(img)
    cols = [(240, 60, 150), (60, 220, 240), (250, 200, 60), (120, 250, 120)]
    for k in range(8):
        x = w * (0.02 + 0.12 * k) if k < 4 else w * (0.54 + 0.12 * (k - 4))
        c = cols[k % 4]
        d.rectangle([x, h * 0.25, x + w * 0.08, h * 0.6], fill=(40, 30, 60))
        d.rectangle([x + 8, h * 0.29, x + w * 0.08 - 8, h * 0.40], fill=c)
        d.rectangle([x + 8, h * 0.62, x + w * 0.08 - 8, h * 0.70], fill=lerp(c, (30, 30, 70), 0.6))  # reflection
    figure(d, w * 0.5, h * 0.78, h * 0.075, body=(30, 30, 40), head=(240, 210, 190))
    d.line([(w * 0.53, h * 0.55), (w * 0.60, h * 0.30)], fill=(230, 235, 255), width=5)
    return img


def aquarium(w=1024, h=576, end=False):
    if not end:
        img = vgradient(w, h, [(0, (5, 30, 60)), (0.5, (20, 90, 140)), (1, (5, 20, 35))])
    else:
        img = vgradient(w, h, [(0, (200, 225, 240)), (0.5, (120, 180, 210)), (1, (40, 80, 100))])
    d = ImageDraw.Draw(img)
    d.arc([w * 0.05, h * 0.05, w * 0.95, h * 1.6], 180, 360, fill=(180, 220, 240), width=10)
    d.polygon([(w * 0.3, h), (w * 0.7, h), (w * 0.55, h * 0.55), (w * 0.45, h * 0.55)], fill=(60, 70, 80))
    fish = [(0.2, 0.3), (0.3, 0.22), (0.7, 0.28), (0.8, 0.4), (0.25, 0.45), (0.65, 0.18)]
    for fx, fy in fish:
        x, y = w * fx, h * fy
        d.ellipse([x - 18, y - 8, x + 18, y + 8], fill=(230, 200, 90))
        d.polygon([(x - 16, y), (x - 30, y - 9), (x - 30, y + 9)], fill=(230, 200, 90))
    if end:  # the cascade in the atrium
        d.rectangle([w * 0.44, 0, w * 0.56, h * 0.6], fill=(240, 250, 255))
        d.ellipse([w * 0.36, h * 0.55, w * 0.64, h * 0.68], fill=(220, 240, 250))
    figure(d, w * 0.5, h * (0.9 if not end else 0.95), h * (0.05 if not end else 0.07), body=(230, 110, 30))
    return img


def storm_train(w=1024, h=576):
    img = vgradient(w, h, [(0, (50, 60, 80)), (0.55, (120, 135, 150)), (0.551, (70, 100, 90)), (1, (40, 60, 60))])
    d = ImageDraw.Draw(img)
    for k in range(14):  # rain streaks
        x = w * 0.07 * k
        d.line([(x, 0), (x + 60, h * 0.5)], fill=(150, 160, 175), width=2)
    d.rectangle([0, h * 0.47, w, h * 0.49], fill=(40, 40, 45))  # elevated track
    for k in range(9):
        d.line([(w * 0.12 * k, h * 0.49), (w * 0.12 * k, h * 0.62)], fill=(40, 40, 45), width=6)
    for k in range(4):  # silver cars with orange lights
        x = w * (0.05 + 0.22 * k)
        d.rounded_rectangle([x, h * 0.33, x + w * 0.2, h * 0.47], radius=8, fill=(190, 195, 205))
        d.rectangle([x + 10, h * 0.36, x + 30, h * 0.39], fill=(250, 170, 50))
    d.rectangle([0, h * 0.78, w, h * 0.84], fill=(70, 70, 75))  # maintenance road
    d.ellipse([w * 0.60, h * 0.72, w * 0.66, h * 0.80], fill=(20, 20, 20))
    d.ellipse([w * 0.70, h * 0.72, w * 0.76, h * 0.80], fill=(20, 20, 20))
    d.polygon([(w * 0.62, h * 0.72), (w * 0.74, h * 0.72), (w * 0.70, h * 0.66), (w * 0.65, h * 0.66)], fill=(25, 25, 30))
    d.ellipse([w * 0.665, h * 0.58, w * 0.695, h * 0.64], fill=(30, 30, 30))
    return img


def ocean_platform(w=1024, h=576, end=False):
    sky = [(0, (60, 70, 85)), (0.5, (120, 130, 140))] if not end else [(0, (90, 140, 190)), (0.5, (230, 210, 170))]
    img = vgradient(w, h, sky + [(0.501, (40, 70, 90)), (1, (20, 40, 55))])
    d = ImageDraw.Draw(img)
    d.polygon([(w * 0.1, h * 0.62), (w * 0.9, h * 0.62), (w, h * 0.85), (0, h * 0.85)], fill=(110, 110, 105))  # deck
    for x in (0.15, 0.5, 0.85):
        d.rectangle([w * (x - 0.02), h * 0.85, w * (x + 0.02), h], fill=(70, 70, 65))
    d.ellipse([w * 0.4, h * 0.66, w * 0.6, h * 0.80], outline=(240, 220, 60), width=5)  # helipad
    hy = h * (0.62 if not end else 0.30)
    d.rounded_rectangle([w * 0.44, hy - h * 0.09, w * 0.58, hy - h * 0.01], radius=16, fill=(220, 60, 40))
    d.line([(w * 0.58, hy - h * 0.06), (w * 0.70, hy - h * 0.07)], fill=(220, 60, 40), width=8)
    d.line([(w * 0.36, hy - h * 0.11), (w * 0.66, hy - h * 0.11)], fill=(30, 30, 30), width=5)
    for k in range(3):
        figure(d, w * (0.2 + 0.08 * k), h * 0.8, h * 0.03, body=(250, 140, 30))
    return img


def ok_frame(w=640, h=360, hue=0):
    base = [(40, 90, 160), (160, 80, 60)][hue]
    img = vgradient(w, h, [(0, lerp(base, (255, 255, 255), 0.5)), (1, base)])
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.35, h * 0.25, w * 0.65, h * 0.25 + w * 0.3], fill=(250, 240, 200))
    d.rectangle([0, h * 0.8, w, h], fill=lerp(base, (0, 0, 0), 0.5))
    return img


# ---------------------------------------------------------------- main


def main():
    f = lambda name: os.path.join(HERE, name)  # noqa: E731
    save(subway_platform(), f("s010-platform.png"))
    save(harbor(), f("s030-harbor.jpg"))
    save(harbor(end=True), f("s030-harbor-end.jpg"))
    save(duelist(), f("s040-duelist.webp"))
    save(lead_actor(), f("lead-actor.jpg"), quality=80)
    save(park_selfie(), f("s080-park.png"))
    save(museum(), f("seed000-museum-relic.jpg"))
    save(falconer(), f("seed001-falconer.jpg"))
    save(arcade(), f("seed001-swordswoman.jpg"))
    save(subway_platform(1024, 576, wall=(50, 40, 70), glow=(250, 120, 200), drums=True), f("seed001-drummer.jpg"))
    save(aquarium(), f("seed003-aquarium-start.jpg"))
    save(aquarium(end=True), f("seed003-aquarium-end.jpg"))
    save(storm_train(), f("seed003-storm-train.jpg"))
    save(ocean_platform(), f("seed003-platform-start.jpg"))
    save(ocean_platform(end=True), f("seed003-platform-end.jpg"))

    t = lambda name: os.path.join(TEST_FRAMES, name)  # noqa: E731
    save(ok_frame(hue=0), t("ok-first.png"))
    save(ok_frame(hue=1), t("ok-last.png"))
    save(ok_frame(200, 200), t("tiny.png"))  # short side 200 px: too small
    save(ok_frame(1600, 400), t("panorama.png"))  # 4:1: wider than 5:2
    save(ok_frame(300, 600, hue=1), t("exactly-300.jpg"))  # short side exactly 300 px: must be > 300
    save(ok_frame(hue=1), t("gif-frame.gif"))  # a real GIF: format not accepted
    with open(t("not-an-image.png"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("This is a plain text file with a .png name.\nshotlist must sniff the content, not trust the extension.\n")
    print(f"{'tests/manifests/frames/not-an-image.png':45s} text  {os.path.getsize(t('not-an-image.png')):6d} bytes")


if __name__ == "__main__":
    main()
