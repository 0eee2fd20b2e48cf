"""Training-curve PNG with pillow only (no matplotlib on these machines)."""
import csv
from PIL import Image, ImageDraw


def _series(rows, key):
    pts = [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "", "nan")]
    return pts


def plot_log(csv_path, png_path, keys=("loss", "psnr_set5", "psnr_set14")):
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    W, H, pad = 900, 260, 40
    colors = [(200, 40, 40), (40, 90, 200), (30, 150, 60), (150, 90, 20)]
    panels = [k for k in keys if _series(rows, k)]
    img = Image.new("RGB", (W, H * len(panels)), "white")
    d = ImageDraw.Draw(img)
    for p, key in enumerate(panels):
        pts = _series(rows, key)
        x0, x1 = min(s for s, _ in pts), max(s for s, _ in pts)
        y0, y1 = min(v for _, v in pts), max(v for _, v in pts)
        x1 = x1 if x1 > x0 else x0 + 1
        y1 = y1 if y1 > y0 else y0 + 1e-6
        top = p * H
        d.rectangle([pad, top + 10, W - 10, top + H - pad], outline=(0, 0, 0))
        xy = [(pad + (s - x0) / (x1 - x0) * (W - pad - 10),
               top + H - pad - (v - y0) / (y1 - y0) * (H - pad - 20)) for s, v in pts]
        if len(xy) > 1:
            d.line(xy, fill=colors[p % 4], width=2)
        d.text((pad + 5, top + 12), f"{key}: last {pts[-1][1]:.4f}  range [{y0:.3f}, {y1:.3f}]  steps {int(x0)}..{int(x1)}", fill=(0, 0, 0))
    img.save(png_path)
