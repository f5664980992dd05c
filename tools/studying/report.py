"""The study's arithmetic and its outputs: tables, the budget plot, grids."""
import math
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from mmintrovae.utils.fileio import write_atomic

# Reported metric -> the key tools/test.py writes (mmagic's prefix/name).
METRICS = {
    'FID': 'FID/fid',
    'SWD': 'SWD/avg',
    'PSNR': 'rec/PSNR',
    'SSIM': 'rec/SSIM',
}
FORMATS = dict(FID='.1f', SWD='.1f', PSNR='.2f', SSIM='.3f')
# The status of a run a collected (``--collect``) study has not finished.
NOT_RUN = 'not run'
# The status of a selection candidate not trained at a budget because it
# was not among its arm's best at the budget before (the plan's promote).
PRUNED = 'pruned'


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean)**2 for v in values) / (n - 1) if n > 1 else 0.
    return dict(mean=mean, std=math.sqrt(var), n=n)


def rank(candidates: List[dict]) -> List[str]:
    """The names of the finished candidates, lowest selection FID first (a
    guard stop or a failure is not ranked)."""
    done = [
        c for c in candidates
        if c['status'] == 'done' and 'FID' in c.get('metrics', {})
    ]
    return [
        c['candidate']
        for c in sorted(done, key=lambda c: c['metrics']['FID'])
    ]


def pick(candidates: List[dict]) -> Optional[str]:
    """The name of the finished candidate with the lowest selection FID."""
    ranked = rank(candidates)
    return ranked[0] if ranked else None


def summarise(runs: List[dict], arms: Sequence[str], baseline: str,
              fid_ratio: float, psnr_drop: float) -> dict:
    """Per-arm statistics, ratios to the baseline and the targets.

    The ratio of mean FIDs and the PSNR difference compare an arm with the
    baseline's runs of the same seeds (``paired_seeds``: in a partial
    study the arms need not have run the same ones); ``fid_ratio_std`` is
    the spread of the per-seed ratios, the seed noise on the ratio.
    """
    summary = {}
    for arm in arms:
        mine = [r for r in runs if r['arm'] == arm]
        done = [r for r in mine if r['status'] == 'done']
        summary[arm] = dict(
            runs=len(mine),
            guard_stops=sum(r['status'] == 'guard stop' for r in mine),
            failed=sum(r['status'] == 'failed' for r in mine),
            metrics={
                k: mean_std([r['metrics'][k] for r in done])
                for k in METRICS
                if done and all(k in r['metrics'] for r in done)
            })
    base = {
        r['seed']: r['metrics']
        for r in runs if r['arm'] == baseline and r['status'] == 'done'
    }
    targets = []
    for arm in arms:
        if arm == baseline:
            continue
        # Paired by seed: an arm is compared with the baseline's runs of
        # the seeds it has (a partial study has not run them all).
        pairs = [
            (r['seed'], r['metrics'], base[r['seed']]) for r in runs
            if r['arm'] == arm and r['status'] == 'done' and r['seed'] in base
        ]
        if pairs:
            summary[arm]['paired_seeds'] = [seed for seed, _, _ in pairs]
        for key in ('FID', 'PSNR'):
            if not pairs or not all(key in m and key in b
                                    for _, m, b in pairs):
                continue
            mine = mean_std([m[key] for _, m, _ in pairs])['mean']
            theirs = mean_std([b[key] for _, _, b in pairs])['mean']
            if key == 'FID':
                ratio = mine / theirs
                summary[arm]['fid_ratio'] = ratio
                summary[arm]['fid_ratio_std'] = mean_std(
                    [m[key] / b[key] for _, m, b in pairs])['std']
                targets.append(
                    dict(
                        what=f'{arm} FID <= {fid_ratio:g} x {baseline} FID',
                        value=f'{ratio:.3f}x',
                        met=ratio <= fid_ratio))
            else:
                diff = mine - theirs
                summary[arm]['psnr_diff'] = diff
                targets.append(
                    dict(
                        what=f'{arm} PSNR within {psnr_drop:g} dB of '
                        f'{baseline}',
                        value=f'{diff:+.2f} dB',
                        met=diff >= -psnr_drop))
    stops = sum(s['guard_stops'] + s['failed'] for s in summary.values())
    targets.append(
        dict(
            what='no run stopped by the stability guard or failed',
            value=str(stops),
            met=stops == 0))
    return dict(baseline=baseline, arms=summary, targets=targets)


def _cells(metrics: dict) -> List[str]:
    cells = []
    for key in METRICS:
        m = metrics.get(key)
        if m is None:
            cells.append('n/a')
        elif isinstance(m, dict) and m.get('n', 2) > 1:
            cells.append(f"{m['mean']:{FORMATS[key]}} ± "
                         f"{m['std']:{FORMATS[key]}}")
        elif isinstance(m, dict):  # one run: no spread to show
            cells.append(f"{m['mean']:{FORMATS[key]}}")
        else:
            cells.append(f'{m:{FORMATS[key]}}')
    return cells


def _ratio_cell(summary: dict, pairs: int) -> str:
    """An arm's FID ratio, with its paired spread when there is one."""
    if 'fid_ratio' not in summary:
        return 'n/a'
    if pairs > 1:
        return (f"{summary['fid_ratio']:.3f} ± "
                f"{summary.get('fid_ratio_std', 0):.3f}")
    return f"{summary['fid_ratio']:.3f}"


def markdown(study: dict) -> str:
    """The study as a Markdown report: per budget the picked arms on the
    test images, the targets, the selection sweep, then every run."""
    lines = [
        '# IntroVAE study', '', f"`{study['command']}`  ",
        f"plan `{study['plan']}`; seeds {study['seeds']}; selection on the "
        f"last {study['select_images']} training images (seed "
        f"{study['select_seed']}, never trained on), report on "
        f"{study['num_eval']} test images; {study['machine']}; "
        f"{study['date']}"
    ]
    if study.get('not_run'):
        lines += [
            '', f"**Partial: {len(study['not_run'])} runs "
            'not run yet; an arm is picked, and its report runs listed, only '
            'once its whole selection has run.**'
        ]
    for budget in study['budgets']:
        b = study['by_budget'][str(budget)]
        base = b['report']['baseline']
        lines += [
            '', f'## {budget} iterations', '',
            f'| arm (pick) | FID | FID / {base} | SWD | rec PSNR (dB) | '
            'rec SSIM | runs | guard stops |',
            '|---|---|---|---|---|---|---|---|'
        ]
        for arm, s in b['report']['arms'].items():
            cells = _cells(s['metrics'])
            paired = s.get('paired_seeds', [])
            ratio = '1' if arm == base else _ratio_cell(s, len(paired))
            base_n = b['report']['arms'][base]['metrics'].get('FID',
                                                              {}).get('n')
            if 'fid_ratio' in s and len(paired) != base_n:
                ratio += f" (seeds {', '.join(map(str, paired))})"
            lines.append(f"| {arm} ({b['picks'].get(arm) or 'none'}) | "
                         f'{cells[0]} | {ratio} | {cells[1]} | {cells[2]} | '
                         f"{cells[3]} | {s['runs']} | "
                         f"{s['guard_stops'] + s['failed']} |")
        lines += ['', '| target | measured | met |', '|---|---|---|']
        lines += [
            f"| {t['what']} | {t['value']} | {'yes' if t['met'] else 'no'} |"
            for t in b['report']['targets']
        ]
        lines += [
            '', 'Selection (FID and PSNR on the held-back training images):',
            '', '| arm | candidate | options | status | FID | SWD | PSNR | '
            'SSIM | picked |', '|---|---|---|---|---|---|---|---|---|'
        ]
        for arm, cands in b['select'].items():
            for c in cands:
                cells = ' | '.join(_cells(c.get('metrics', {})))
                mark = 'yes' if b['picks'].get(arm) == c['candidate'] else ''
                status = c['status']
                if status == PRUNED:
                    status = f"pruned ({c['pruned']})"
                lines.append(f"| {arm} | {c['candidate']} | "
                             f"`{c['options']}` | {status} | {cells} | "
                             f'{mark} |')
    lines += [
        '', 'Report runs:', '',
        '| iters | arm | seed | status | train s | FID | SWD | PSNR | SSIM |',
        '|---|---|---|---|---|---|---|---|---|'
    ]
    for budget in study['budgets']:
        for r in study['by_budget'][str(budget)]['runs']:
            cells = ' | '.join(_cells(r.get('metrics', {})))
            secs = '?' if r.get('train_s') is None else r['train_s']
            lines.append(f"| {budget} | {r['arm']} | {r['seed']} | "
                         f"{r['status']} | {secs} | {cells} |")
    return '\n'.join(lines) + '\n'


def ratio_plot(study: dict, out: str, target: float) -> None:
    """FID / best-VAE FID against the budget, one line per arm, with the
    spread of the per-seed ratios as error bars and each point's number of
    paired seeds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.4), dpi=120)
    budgets = study['budgets']
    arms = [
        a for a in study['by_budget'][str(budgets[0])]['report']['arms']
        if a != study['baseline']
    ]
    for arm in arms:
        xs, ys, es, ns = [], [], [], []
        for budget in budgets:
            s = study['by_budget'][str(budget)]['report']['arms'][arm]
            if 'fid_ratio' in s:
                xs.append(budget)
                ys.append(s['fid_ratio'])
                es.append(s.get('fid_ratio_std', 0.))
                ns.append(len(s.get('paired_seeds', [])))
        if xs:
            ax.errorbar(xs, ys, yerr=es, marker='o', capsize=3, label=arm)
            for x, y, n in zip(xs, ys, ns):  # a point's number of seeds
                ax.annotate(
                    f'{n} seed{"s" if n != 1 else ""}', (x, y),
                    textcoords='offset points',
                    xytext=(6, 4),
                    fontsize=7)
    ax.axhline(1.0, color='grey', lw=0.8)
    ax.axhline(
        target, color='grey', lw=0.8, ls='--', label=f'target {target:g}x')
    ax.set_xlabel('training iterations')
    ax.set_ylabel(f"FID / best {study['baseline']} FID")
    if len(budgets) > 1:
        ax.set_xscale('log')
        ax.minorticks_off()  # only the budgets are labelled
    ax.set_xticks(budgets)
    ax.set_xticklabels([str(b) for b in budgets])
    ax.legend(fontsize=8)
    fig.tight_layout()
    ok, png = cv2.imencode('.png', _figure_pixels(fig))
    plt.close(fig)
    write_atomic(out, png.tobytes())


def _figure_pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)


def side_by_side(grids: Dict[str, str], out: str) -> None:
    """Writes the arms' sample grids next to each other, titled."""
    tiles = []
    for name, path in grids.items():
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            continue
        band = np.full((28, image.shape[1], 3), 255, np.uint8)
        cv2.putText(band, name, (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([band, image]))
        tiles.append(np.full((tiles[-1].shape[0], 8, 3), 255, np.uint8))
    if tiles:
        height = max(t.shape[0] for t in tiles)
        tiles = [
            np.pad(
                t, ((0, height - t.shape[0]), (0, 0), (0, 0)),
                constant_values=255) for t in tiles[:-1]
        ]
        ok, png = cv2.imencode('.png', np.concatenate(tiles, axis=1))
        write_atomic(out, png.tobytes())
