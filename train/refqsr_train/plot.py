"""Training-curve PNG with pillow only (no matplotlib on these machines)."""
import csv
from PIL import Image, ImageDraw


def _series(rows, key):
    pts = [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "", "nan")]
    return pts


def plot_log(csv_path, png_path, keys=("loss", "psnr_set5", "psnr_set14")):
    """One panel per entry of `keys`: a column name, or a tuple of names drawn together on
    one scale (e.g. a model's PSNR and its weight average's), over the steps of the whole log."""
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    W, H, pad = 900, 260, 40
    colors = [(200, 40, 40), (40, 90, 200), (30, 150, 60), (150, 90, 20)]
    groups = [(k,) if isinstance(k, str) else tuple(k) for k in keys]
    panels = [[(k, _series(rows, k)) for k in g if _series(rows, k)] for g in groups]
    panels = [p for p in panels if p]
    img = Image.new("RGB", (W, H * max(1, len(panels))), "white")
    d = ImageDraw.Draw(img)
    steps = [s for p in panels for _, pts in p for s, _ in pts]
    x0, x1 = min(steps, default=0.0), max(steps, default=1.0)
    x1 = x1 if x1 > x0 else x0 + 1
    for p, series in enumerate(panels):
        vals = [v for _, pts in series for _, v in pts]
        y0, y1 = min(vals), max(vals)
        y1 = y1 if y1 > y0 else y0 + 1e-6
        top = p * H
        d.rectangle([pad, top + 10, W - 10, top + H - pad], outline=(0, 0, 0))
        for i, (key, pts) in enumerate(series):
            color = colors[(p + i) % 4]
            xy = [(pad + (s - x0) / (x1 - x0) * (W - pad - 10),
                   top + H - pad - (v - y0) / (y1 - y0) * (H - pad - 20)) for s, v in pts]
            if len(xy) > 1:
                d.line(xy, fill=color, width=2)
            else:
                x, y = xy[0]
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
            d.text((pad + 5, top + 12 + 12 * i),
                   f"{key}: last {pts[-1][1]:.4f}  range [{min(v for _, v in pts):.3f}, {max(v for _, v in pts):.3f}]  "
                   f"steps {int(pts[0][0])}..{int(pts[-1][0])}", fill=color)
    img.save(png_path)
