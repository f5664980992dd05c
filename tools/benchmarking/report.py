"""The benchmark's figures and its printed table."""
import statistics
from typing import Dict, Optional


def summarise(result: dict, batch_size: int, flops: Optional[int]) -> dict:
    """Median ms/iter, images/s and TFLOP/s of a mode's timings.

    Args:
        result (dict): ``times_s`` and ``peak_mem_mib`` of a mode.
        batch_size (int): Images per iteration.
        flops (int, optional): FLOPs per iteration.

    Returns:
        dict: The mode's numbers.
    """
    median = statistics.median(result['times_s'])
    summary = dict(
        ms_per_iter=1e3 * median,
        ms_per_iter_min=1e3 * min(result['times_s']),
        images_per_s=batch_size / median,
        peak_mem_mib=result['peak_mem_mib'],
        ms_per_iter_all=[1e3 * t for t in result['times_s']])
    if flops:
        summary['tflops'] = flops / median / 1e12
    return summary


def ratios(modes: Dict[str, dict], base: str = 'plain') -> Dict[str, float]:
    """Time ratios of every other mode to ``base``, pair by pair.

    The timed iterations interleave the modes, so the i-th iterations of
    two modes ran back to back; the ratio is the median of their ratios,
    which cancels slow changes in the machine's load.

    Args:
        modes (dict): Per-mode summaries from :func:`summarise`.
        base (str): The reference mode: 'plain', or 'fp32' for
            ``--variants`` of an objective plain cannot reproduce.

    Returns:
        dict: ``'<mode>/<base>'`` (e.g. ``'product/plain'``,
        ``'+bf16/plain'``) for every measured mode but ``base``.
    """
    if base not in modes:
        return {}
    times = modes[base]['ms_per_iter_all']
    return {
        f'{name}/{base}':
        statistics.median(
            a / b for a, b in zip(modes[name]['ms_per_iter_all'], times))
        for name in modes if name != base
    }


def format_table(modes: Dict[str, dict],
                 pair_ratios: Dict[str, float],
                 base: str = 'plain') -> str:
    """A plain text table of the modes' numbers.

    Args:
        modes (dict): Per-mode summaries from :func:`summarise`.
        pair_ratios (dict): From :func:`ratios`.
        base (str): The reference mode of the ratio columns.

    Returns:
        str: The table.
    """
    head = (f'{"mode":<14} {"ms/iter":>9} {"min ms":>9} {"images/s":>9} '
            f'{"peak MiB":>9} {"TFLOP/s":>8} {"time/" + base:>10} '
            f'{"speed-up":>8} {"mem/" + base:>9}')
    lines = [head, '-' * len(head)]
    plain_mem = modes.get(base, {}).get('peak_mem_mib')
    for name, m in modes.items():
        ratio = 1.0 if name == base else pair_ratios.get(f'{name}/{base}')
        mem = m['peak_mem_mib'] / plain_mem if plain_mem else None
        lines.append(
            f'{name:<14} {m["ms_per_iter"]:9.2f} {m["ms_per_iter_min"]:9.2f} '
            f'{m["images_per_s"]:9.1f} {m["peak_mem_mib"]:9.1f} '
            f'{_cell(m.get("tflops"), 8, 4)} {_cell(ratio, 10, 3)} '
            f'{_cell(1 / ratio if ratio else None, 8, 2)} '
            f'{_cell(mem, 9, 2)}')
    return '\n'.join(lines)


def _cell(value: Optional[float], width: int, digits: int) -> str:
    """A right-aligned number, or '-' if there is none."""
    if value is None:
        return f'{"-":>{width}}'
    return f'{value:{width}.{digits}f}'


def format_report(report: dict) -> str:
    """The whole report: setup, table, ratios, data, notes."""
    lines = [
        f'config: {report["config"]}',
        f'device: {report["device_name"]}, torch threads: '
        f'{report["torch_threads"]}',
        f'batch {report["batch_size"]} x {report["image_size"]}px, warm-up '
        f'{report["warmup"]}, timed {report["iters"]} (median)',
        f'memory: {report["memory_kind"]}',
    ]
    if report.get('flops_per_iter'):
        lines.append(f'FLOPs/iter ({report["flops_of"]}, FlopCounterMode): '
                     f'{report["flops_per_iter"] / 1e9:.2f} GFLOP')
    lines += [
        '',
        format_table(report['modes'], report['ratios'],
                     report.get('base', 'plain')), ''
    ]
    lines += [
        f'{k}: {v:.3f}x (median of per-iteration ratios)'
        for k, v in report['ratios'].items()
    ]
    data = report.get('data')
    if data:
        lines += [
            f'data: {data["images_per_s_per_worker"]:.1f} images/s per '
            f'worker ({data["images"]} images from {data["source"]})',
            f'data: {data.get("workers_needed", "-")} worker(s) needed to '
            f'feed {data.get("fed_mode", "-")}'
        ]
    lines += [f'note: {n}' for n in report['notes']]
    return '\n'.join(lines)
