"""tools/study.py: a smoke run of a small plan through train.py, test.py and
sample.py (selection on held-back training images, report on the test
split), its arithmetic on hand-made results, and its refusals."""
import json
import os
import shutil
import time

import cv2
import pytest
from conftest import REPO, load_tool

study = load_tool('study')

SMOKE_PLAN = """
baseline = 'vae'
select_images = 4
select_seed = 7
seeds = [5]
budgets = [3]
num_eval = 8
checkpoint_every = 2
arms = {
    'introvae': dict(
        config='configs/introvae_fashion-mnist-32.py',
        candidates=[
            dict(name='config', options={}),
            dict(name='warmup0.5', options={'warmup_share': 0.5}),
        ]),
    'soft-introvae': dict(config='configs/soft-introvae_fashion-mnist-32.py'),
    'vae': dict(
        config='configs/vae_fashion-mnist-32.py',
        candidates=[
            dict(name='beta0.5', options={}),
            dict(name='beta8', options={'model.beta': 8.0}),
        ]),
}
"""


def _write_plan(path, text=SMOKE_PLAN):
    path.write_text(text)
    return str(path)


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    """The small plan (5 selection runs, 3 report runs of 3 iterations) on
    24 generated 32x32 images: 16 for training (4 of them held back for the
    selection) and 8 test images. Its study.json/md are kept as
    ``smoke_study.json``/``smoke_study.md`` beside the work dir."""
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    tmp = tmp_path_factory.mktemp('study')
    make_synthetic_faces(
        str(tmp / 'data'), 24, size=32, seed=3, val_fraction=1 / 3)
    argv = [
        '--plan',
        _write_plan(tmp / 'plan.py'), '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(tmp / 'study')
    ]
    old = os.environ.get('OMP_NUM_THREADS')
    os.environ['OMP_NUM_THREADS'] = '1'
    try:
        t0 = time.time()
        assert study.main(argv) == 0
        first_s = time.time() - t0
        t0 = time.time()
        assert study.main(argv) == 0  # everything done: only the report
        second_s = time.time() - t0
        # Later tests run the study again in this work dir (other budgets,
        # --collect, --only), each rewriting study.json/md; keep this run's.
        for name in ('study.json', 'study.md'):
            shutil.copy(tmp / 'study' / name, tmp / f'smoke_{name}')
    finally:
        if old is None:
            del os.environ['OMP_NUM_THREADS']
        else:
            os.environ['OMP_NUM_THREADS'] = old
    return tmp, first_s, second_s


def test_selection_picks_the_lowest_fid_on_held_back_images(smoke):
    tmp, _, _ = smoke
    result = json.loads((tmp / 'smoke_study.json').read_text())
    budget = result['by_budget']['3']
    assert set(budget['select']) == {'introvae', 'soft-introvae', 'vae'}
    for arm, cands in budget['select'].items():
        assert [c['status'] for c in cands] == ['done'] * len(cands)
        best = min(cands, key=lambda c: c['metrics']['FID'])
        assert budget['picks'][arm] == best['candidate']
    assert [c['candidate'] for c in budget['select']['vae']] == \
        ['beta0.5', 'beta8']
    # The selection runs sample nothing: only the report runs draw grids.
    assert not (tmp / 'study' / 'iters3' / 'select' / 'vae' / 'beta8' /
                'grids').exists()


def test_report_ratios_are_to_the_picked_baseline(smoke):
    tmp, _, _ = smoke
    result = json.loads((tmp / 'smoke_study.json').read_text())
    budget = result['by_budget']['3']
    report = budget['report']
    assert report['baseline'] == 'vae'
    # Which CPU: sessions' machines differ in speed by more than 2x.
    assert result['machine'].startswith(f'{os.cpu_count()} CPU cores (')
    assert [(r['arm'], r['seed'], r['status'])
            for r in budget['runs']] == [('introvae', 5, 'done'),
                                         ('soft-introvae', 5, 'done'),
                                         ('vae', 5, 'done')]
    vae_fid = report['arms']['vae']['metrics']['FID']['mean']
    for arm in ('introvae', 'soft-introvae'):
        metrics = report['arms'][arm]['metrics']
        assert set(metrics) == {'FID', 'SWD', 'PSNR', 'SSIM'}
        assert report['arms'][arm]['fid_ratio'] == pytest.approx(
            metrics['FID']['mean'] / vae_fid)
        assert budget['runs'][0]['candidate'] == budget['picks']['introvae']
    md = (tmp / 'smoke_study.md').read_text()
    assert '## 3 iterations' in md and 'Selection' in md
    assert f"| vae ({budget['picks']['vae']}) |" in md
    assert 'introvae FID <= 0.7 x vae FID' in md
    plot = cv2.imread(str(tmp / 'study' / 'study_ratio.png'))
    assert plot is not None and plot.shape[0] > 100
    picture = cv2.imread(str(tmp / 'study' / 'study_samples_3.png'))
    grid = cv2.imread(
        str(tmp / 'study' / 'iters3' / 'vae' / 'seed5' / 'grids' /
            'samples.png'))
    assert picture.shape[1] == 3 * grid.shape[1] + 2 * 8
    assert picture.shape[0] == grid.shape[0] + 28


def test_splits_hold_back_the_last_training_images(smoke):
    tmp, _, _ = smoke
    train = sorted(os.listdir(tmp / 'data' / 'train'))
    splits = tmp / 'study' / 'splits'
    fit = (splits / 'fit.txt').read_text().split()
    select = (splits / 'select.txt').read_text().split()
    assert fit == train[:-4] and select == train[-4:]


def test_each_run_records_its_split_budget_and_candidate(smoke):
    from mmengine.config import Config
    tmp, _, _ = smoke
    runs = tmp / 'study' / 'iters3'
    splits = tmp / 'study' / 'splits'
    sel = Config.fromfile(str(runs / 'select' / 'vae' / 'beta8' / 'config.py'))
    assert sel.randomness.seed == 7 and sel.model.beta == 8.0
    assert sel.train_dataloader.dataset.ann_file == str(splits / 'fit.txt')
    assert sel.test_dataloader.dataset.ann_file == str(splits / 'select.txt')
    assert sel.test_dataloader.dataset.data_prefix == dict(gt='train')
    fid = [m for m in sel.test_evaluator.metrics if m['prefix'] == 'FID']
    assert fid[0]['fake_nums'] == fid[0]['real_nums'] == 4  # the split's
    # warm-up: the config's share (300 / 1,200) of 3, or the candidate's.
    intro = Config.fromfile(
        str(runs / 'select' / 'introvae' / 'warmup0.5' / 'config.py'))
    assert intro.model.vae_warmup_iters == 2
    intro = Config.fromfile(
        str(runs / 'select' / 'introvae' / 'config' / 'config.py'))
    assert intro.model.vae_warmup_iters == 1
    rep = Config.fromfile(str(runs / 'soft-introvae' / 'seed5' / 'config.py'))
    assert rep.randomness.seed == 5 and rep.model.type == 'SoftIntroVAE'
    assert rep.train_cfg.max_iters == 3
    # Checkpoints at the plan's interval and at the end; the last is kept.
    assert rep.default_hooks.checkpoint.interval == 2
    assert not (runs / 'soft-introvae' / 'seed5' / 'iter_2.pth').exists()
    assert rep.train_dataloader.dataset.ann_file == str(splits / 'fit.txt')
    assert rep.test_dataloader.dataset.data_prefix == dict(gt='val')
    assert rep.test_dataloader.dataset.indices == 8
    assert (runs / 'introvae' / 'seed5' / 'iter_3.pth').is_file()


def test_finished_runs_are_not_repeated(smoke):
    _, first_s, second_s = smoke
    assert second_s < first_s / 5


def test_a_finished_run_with_another_config_is_not_reused(smoke, capsys):
    tmp, _, _ = smoke
    work = tmp / 'study'
    before = sorted(p.name for p in work.rglob('result.json'))
    code = study.main([
        '--plan',
        str(tmp / 'plan.py'), '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(work), '--num-eval', '3'
    ])
    err = capsys.readouterr().err
    assert code == 2
    assert 'finished with another config' in err and '--work-dir' in err
    assert str(work / 'iters3' / 'select' / 'introvae' / 'config') in err
    assert sorted(p.name for p in work.rglob('result.json')) == before


def test_a_finished_run_of_another_checkpoint_interval_is_reused(smoke):
    from mmengine.config import Config
    tmp, _, _ = smoke
    work = tmp / 'study'
    run = work / 'iters3' / 'select' / 'introvae' / 'warmup0.5'
    cfg = Config.fromfile(str(run / 'config.py'))
    cfg.default_hooks.checkpoint.interval = 3  # e.g. an older study's
    cfg.dump(str(run / 'config.py'))
    stamp = (run / 'result.json').stat().st_mtime_ns
    assert study.main([
        '--plan',
        str(tmp / 'plan.py'), '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(work)
    ]) == 0
    assert (run / 'result.json').stat().st_mtime_ns == stamp


def test_records_moved_to_another_checkout_are_the_same_runs(
        smoke, tmp_path, monkeypatch, capsys):
    """Run folders copied with their data to another folder (the committed
    docs/study_cpu_*/runs in a fresh clone) are reused there: their configs
    name the folder they were run from, which is swapped for today's. A
    run moved without its checkpoint trains again."""
    tmp, _, _ = smoke
    moved = tmp_path / 'checkout'
    shutil.copytree(tmp / 'data', moved / 'data')
    shutil.copytree(
        tmp / 'study', moved / 'study', ignore=shutil.ignore_patterns('*.pth'))
    shutil.copytree(tmp / 'data', moved / 'other')
    monkeypatch.chdir(moved)
    results = sorted((moved / 'study').rglob('result.json'))
    stamps = [p.stat().st_mtime_ns for p in results]
    argv = ['--plan', str(tmp / 'plan.py'), '--work-dir', 'study']
    assert study.main(argv + ['--data-root', 'data', '--collect']) == 0
    budget = json.loads((moved / 'study' / 'study.json').read_text())
    assert [r['status']
            for r in budget['by_budget']['3']['runs']] == ['done'] * 3
    # The same images elsewhere are another data root: not the same runs.
    assert study.main(argv + ['--data-root', 'other', '--collect']) == 2
    assert 'finished with another config' in capsys.readouterr().err
    assert [p.stat().st_mtime_ns for p in results] == stamps
    run = moved / 'study' / 'iters3' / 'select' / 'vae' / 'beta8'
    (run / 'result.json').unlink()
    assert study.main(argv +
                      ['--data-root', 'data', '--only', 'vae/beta8']) == 0
    assert 'trained before it was interrupted' not in capsys.readouterr().out
    assert json.loads((run / 'train.json').read_text())['resumed'] is False
    assert (run / 'iter_3.pth').is_file()


def test_saved_records_restore_the_study_in_a_fresh_work_dir(
        smoke, tmp_path, monkeypatch):
    """--save-records copies each finished run's record (no checkpoint)
    into DIR ({iters} = the budget); copied back into an empty work dir
    they give the same tables and the same side-by-side grids."""
    tmp, _, _ = smoke
    here = tmp_path / 'checkout'
    shutil.copytree(tmp / 'data', here / 'data')
    shutil.copytree(tmp / 'study', here / 'study')
    monkeypatch.chdir(here)
    argv = [
        '--plan',
        str(tmp / 'plan.py'), '--work-dir', 'study', '--data-root', 'data'
    ]
    assert study.main(argv +
                      ['--collect', '--save-records', 'docs_{iters}']) == 0
    before = json.loads((here / 'study' / 'study.json').read_text())
    grid = (here / 'study' / 'study_samples_3.png').read_bytes()
    records = here / 'docs_3'
    saved = sorted(
        str(p.relative_to(records)) for p in records.rglob('*') if p.is_file())
    # The plan's budget only: the shared smoke study may also hold runs of
    # other budgets (test_only_runs_the_named_share_...'s iters5).
    runs = sorted(
        str(p.parent.relative_to(here / 'study'))
        for p in (here / 'study' / 'iters3').rglob('result.json'))
    assert len(runs) == 8  # 5 selection runs, 3 report runs
    assert saved == sorted(
        f'{run}/{name}' for run in runs
        for name in ('config.py', 'train.json', 'result.json') +
        (('grids/samples.png', ) if 'select' not in run else ()))
    shutil.rmtree(here / 'study')
    shutil.copytree(records, here / 'study')  # a fresh checkout's restore
    assert study.main(argv + ['--collect']) == 0
    after = json.loads((here / 'study' / 'study.json').read_text())
    assert after['by_budget'] == before['by_budget']
    assert (here / 'study' / 'study_samples_3.png').read_bytes() == grid


def test_a_run_killed_after_training_is_only_evaluated(smoke, capsys):
    tmp, _, _ = smoke
    work = tmp / 'study'
    run = work / 'iters3' / 'select' / 'vae' / 'beta8'
    old = json.loads((run / 'result.json').read_text())
    ckpt_mtime = (run / 'iter_3.pth').stat().st_mtime_ns
    (run / 'result.json').unlink()  # killed while testing: no result yet
    (run / 'train.json').unlink()
    assert study.main([
        '--plan',
        str(tmp / 'plan.py'), '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(work)
    ]) == 0
    assert 'trained before it was interrupted' in capsys.readouterr().out
    assert (run / 'iter_3.pth').stat().st_mtime_ns == ckpt_mtime
    new = json.loads((run / 'result.json').read_text())
    assert new['resumed'] is True and new['train_s'] is None
    assert new['metrics'] == pytest.approx(old['metrics'], rel=1e-6)


def test_a_run_killed_while_training_goes_on_from_its_checkpoint(
        smoke, tmp_path):
    from mmengine.config import Config
    tmp, _, _ = smoke
    cfg = Config.fromfile(
        str(tmp / 'study' / 'iters3' / 'select' / 'vae' / 'beta8' /
            'config.py'))
    cfg.load_from = None  # test.py wrote the checkpoint it tested there
    assert cfg.default_hooks.checkpoint.interval == 2  # the plan's
    cfg.default_hooks.checkpoint.max_keep_ckpts = 3  # keep iter_2.pth
    work = str(tmp_path / 'run')
    info = dict(arm='vae', candidate='beta8')
    first = study.train_and_evaluate(cfg, work, info, sample=False)
    assert first['status'] == 'done' and first['resumed'] is False
    # Killed right after the checkpoint of iteration 2:
    for name in ('result.json', 'train.json', 'iter_3.pth'):
        os.remove(os.path.join(work, name))
    with open(os.path.join(work, 'last_checkpoint'), 'w') as f:
        f.write(os.path.join(work, 'iter_2.pth'))
    again = study.train_and_evaluate(cfg, work, info, sample=False)
    assert again['status'] == 'done' and again['resumed'] is True
    with open(os.path.join(work, 'train.out')) as f:
        assert 'resumed epoch: 0, iter: 2' in f.read()
    assert os.path.isfile(os.path.join(work, 'iter_3.pth'))
    assert again['metrics'] == pytest.approx(first['metrics'], rel=1e-6)


def test_collect_tabulates_the_finished_runs_and_trains_nothing(smoke):
    tmp, _, _ = smoke
    work = tmp / 'study'
    assert study.main([
        '--plan',
        str(tmp / 'plan.py'), '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(work), '--iters', '3', '4', '--collect'
    ]) == 0
    assert not (work / 'iters4').exists()
    result = json.loads((work / 'study.json').read_text())
    new = result['by_budget']['4']
    assert {c['status']
            for cands in new['select'].values()
            for c in cands} == {'not run'}
    assert new['picks'] == dict.fromkeys(new['select']) and new['runs'] == []
    assert len(result['not_run']) == 5  # the selection: report runs unknown
    old = result['by_budget']['3']
    assert [r['status'] for r in old['runs']] == ['done'] * 3
    assert old['report']['arms']['introvae']['fid_ratio'] > 0
    md = (work / 'study.md').read_text()
    assert 'Partial: 5 runs not run yet' in md
    assert '## 4 iterations' in md and '| vae (none) |' in md


def test_only_runs_the_named_share_and_collects_the_rest(smoke):
    tmp, _, _ = smoke
    work = tmp / 'study'
    assert study.main([
        '--plan',
        str(tmp / 'plan.py'), '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(work), '--iters', '5', '--only', 'vae/beta8'
    ]) == 0
    root = work / 'iters5'
    assert [str(p.relative_to(root)) for p in root.rglob('result.json')
            ] == [os.path.join('select', 'vae', 'beta8', 'result.json')]
    budget = json.loads((work / 'study.json').read_text())['by_budget']['5']
    assert [c['status']
            for c in budget['select']['vae']] == ['not run', 'done']
    assert budget['picks'] == dict.fromkeys(budget['select'])
    assert json.loads((work / 'study.json').read_text())['not_run'] == [
        str(root / 'select' / arm / cand)
        for arm, cand in (('introvae', 'config'), ('introvae', 'warmup0.5'),
                          ('soft-introvae', 'config'), ('vae', 'beta0.5'))
    ]


def test_a_larger_budget_trains_only_the_promoted_candidates(smoke):
    """With ``promote = 1`` the 4-it selection of an arm is only its best
    candidate at 3 its; the others are listed as pruned with their rank.
    Budgets are taken smallest first, whatever their order."""
    tmp, _, _ = smoke
    work = tmp / 'study'
    plan = _write_plan(
        tmp / 'promote1.py',
        SMOKE_PLAN.replace('budgets = [3]', 'budgets = [3]\npromote = 1'))
    assert study.main([
        '--plan', plan, '--data-root',
        str(tmp / 'data'), '--work-dir',
        str(work), '--iters', '4', '3', '--collect'
    ]) == 0
    result = json.loads((work / 'study.json').read_text())
    assert result['budgets'] == [3, 4]
    before, new = result['by_budget']['3'], result['by_budget']['4']
    for arm, cands in new['select'].items():
        ranked = sorted(
            before['select'][arm], key=lambda c: c['metrics']['FID'])
        status = {c['candidate']: c['status'] for c in cands}
        assert status[ranked[0]['candidate']] == 'not run'
        for i, c in enumerate(ranked[1:], 2):
            pruned = next(n for n in cands if n['candidate'] == c['candidate'])
            assert pruned['status'] == 'pruned'
            assert pruned[
                'pruned'] == f'FID rank {i} of {len(ranked)} at 3 its'
            assert not (work / 'iters4' / 'select' / arm /
                        c['candidate']).exists()
    assert len(result['not_run']) == 3  # one candidate per arm
    md = (work / 'study.md').read_text()
    assert 'pruned (FID rank 2 of 2 at 3 its)' in md


def test_promotion_waits_for_the_smaller_budget_and_skips_its_failures():
    arm = study.Arm(
        'vae', 'x.py',
        [study.Candidate(name, {}) for name in ('a', 'b', 'c', 'd')])
    plan = study.Plan(
        path='p.py',
        arms={'vae': arm},
        baseline='vae',
        seeds=[0],
        budgets=[1, 2],
        select_images=2,
        select_seed=0,
        num_eval=2,
        promote=2)
    before = dict(
        select=dict(vae=[
            dict(candidate='a', status='guard stop'),
            dict(candidate='b', status='done', metrics=dict(FID=50.)),
            dict(candidate='c', status='done', metrics=dict(FID=60.)),
            dict(candidate='d', status='done', metrics=dict(FID=40.)),
        ]))
    assert study.promoted(plan, arm, (1, before)) == {
        'a': 'not finished at 1 its',
        'b': '',
        'c': 'FID rank 3 of 3 at 1 its',
        'd': '',
    }
    assert study.promoted(plan, arm, None) is None  # the smallest budget
    before['select']['vae'][2]['status'] = 'not run'
    assert set(study.promoted(plan, arm, (1, before)).values()) == {'waiting'}
    plan.promote = None
    assert study.promoted(plan, arm, (1, before)) is None


def _run(arm, seed, status='done', **metrics):
    return dict(
        arm=arm,
        seed=seed,
        status=status,
        train_s=1,
        work_dir='x',
        metrics=metrics)


def test_summary_ratios_seed_spread_targets_and_guard_stops():
    runs = [
        _run('intro', 0, FID=60., SWD=1., PSNR=20., SSIM=.5),
        _run('intro', 1, FID=80., SWD=1., PSNR=21., SSIM=.5),
        _run('soft', 0, 'guard stop'),
        _run('soft', 1, FID=120., SWD=1., PSNR=19., SSIM=.5),
        _run('vae', 0, FID=100., SWD=2., PSNR=22., SSIM=.6),
        _run('vae', 1, FID=100., SWD=2., PSNR=22., SSIM=.6),
    ]
    summary = study.summarise(runs, ['intro', 'soft', 'vae'], 'vae', 0.7, 1.)
    intro = summary['arms']['intro']
    assert intro['metrics']['FID']['mean'] == 70.
    assert intro['metrics']['FID']['std'] == pytest.approx(14.142, abs=1e-3)
    assert intro['fid_ratio'] == pytest.approx(0.7)
    # per-seed ratios 0.6 and 0.8
    assert intro['fid_ratio_std'] == pytest.approx(0.14142, abs=1e-4)
    assert intro['psnr_diff'] == pytest.approx(-1.5)
    assert summary['arms']['soft']['guard_stops'] == 1
    assert summary['arms']['soft']['metrics']['FID']['n'] == 1
    met = {t['what']: t['met'] for t in summary['targets']}
    assert met['intro FID <= 0.7 x vae FID'] is True
    assert met['intro PSNR within 1 dB of vae'] is False
    assert met['soft FID <= 0.7 x vae FID'] is False
    assert met['no run stopped by the stability guard or failed'] is False


def test_a_partial_report_compares_the_same_seeds():
    """A study part-way through its report: the baseline has run seeds 0-2,
    the arm 0 and 1; the ratio and the PSNR gap are to the baseline's seeds
    0 and 1, not to its mean over three."""
    runs = [
        _run('intro', 0, FID=90., PSNR=20.),
        _run('intro', 1, FID=110., PSNR=20.),
        _run('vae', 0, FID=100., PSNR=21.),
        _run('vae', 1, FID=100., PSNR=21.),
        _run('vae', 2, FID=400., PSNR=11.),
    ]
    summary = study.summarise(runs, ['intro', 'vae'], 'vae', 0.7, 1.)
    intro = summary['arms']['intro']
    assert intro['paired_seeds'] == [0, 1]
    assert intro['fid_ratio'] == pytest.approx(1.0)
    assert intro['fid_ratio_std'] == pytest.approx(0.14142, abs=1e-4)
    assert intro['psnr_diff'] == pytest.approx(-1.0)
    assert summary['arms']['vae']['metrics']['FID']['mean'] == 200.


def test_the_table_shows_a_spread_only_where_there_are_seeds_to_spread():
    """One seed has no spread: its row reads '140.5', not '140.5 ± 0.0',
    and a ratio of one pair of seeds has no ± either."""
    runs = [
        _run('intro', 0, FID=126.4, SWD=55.2, PSNR=16.09, SSIM=.508),
        _run('vae', 0, FID=140.5, SWD=71.3, PSNR=18.82, SSIM=.630),
        _run('vae', 1, FID=150.5, SWD=73.3, PSNR=18.62, SSIM=.610),
    ]
    report = study.summarise(runs, ['intro', 'vae'], 'vae', 0.7, 1.)
    table = study.markdown(
        dict(
            command='c',
            plan='p',
            seeds=[0, 1],
            select_images=5,
            select_seed=100,
            num_eval=2,
            machine='m',
            date='d',
            budgets=[10],
            by_budget={
                '10':
                dict(
                    report=report,
                    picks=dict(intro='a', vae='b'),
                    select={},
                    runs=runs)
            }))
    rows = {
        line.split(' | ')[0]: line
        for line in table.splitlines() if line.startswith('| ')
    }
    assert rows['| intro (a)'].startswith(
        '| intro (a) | 126.4 | 0.900 (seeds 0) | 55.2 | 16.09 | 0.508 |')
    assert rows['| vae (b)'].startswith(
        '| vae (b) | 145.5 ± 7.1 | 1 | 72.3 ± 1.4 | 18.72 ± 0.14 |')


def test_a_guard_stop_or_failure_cannot_be_picked():
    cands = [
        dict(candidate='a', status='guard stop'),
        dict(candidate='b', status='done', metrics=dict(FID=50.)),
        dict(candidate='c', status='done', metrics=dict(FID=40.)),
        dict(candidate='d', status='failed'),
    ]
    assert study.pick(cands) == 'c'
    assert study.pick(cands[:1] + cands[3:]) is None


def test_the_shipped_plan_loads_and_every_option_is_a_config_key():
    plan = study.load_plan('configs/studies/fashion-mnist-32.py')
    study.check_option_keys(plan)
    assert plan.baseline == 'vae' and plan.num_eval == 10000
    assert plan.budgets[-1] >= 3000 and plan.promote == 3
    assert len(plan.arms['vae'].candidates) >= 3


@pytest.mark.parametrize('plan_text, argv, message', [
    (SMOKE_PLAN.replace("baseline = 'vae'", "baseline = 'ae'"), [],
     "baseline='ae' is not one of the arms"),
    (SMOKE_PLAN.replace('vae_fashion', 'nope_fashion'), [], 'no config file'),
    (SMOKE_PLAN.replace("'warmup_share': 0.5",
                        "'warmup_share': 1.5"), [], 'warmup_share=1.5'),
    (SMOKE_PLAN.replace("'model.beta'", "'model.betta'"), [],
     "option 'model.betta' is not a key"),
    (SMOKE_PLAN.replace("dict(name='beta8',",
                        "dict(name='beta0.5',"), [], 'candidate names repeat'),
    (SMOKE_PLAN.replace('select_seed = 7\n', ''), [], 'no `select_seed`'),
    (SMOKE_PLAN.replace('checkpoint_every = 2',
                        'checkpoint_every = 0'), [], 'checkpoint_every=0'),
    (SMOKE_PLAN, ['--iters', '0'], 'budgets [0]'),
    (SMOKE_PLAN, ['--iters', '3', '3'], 'a budget is given twice'),
    (SMOKE_PLAN.replace('budgets = [3]', 'budgets = [3]\npromote = 0'), [],
     'promote=0: give the number of candidates'),
    (SMOKE_PLAN, ['--select-images', '40'], 'too few to hold back'),
    (SMOKE_PLAN, ['--only', 'gan'], "has no arm 'gan'"),
    (SMOKE_PLAN, ['--save-records', 'docs_{budget}'
                  ], 'the only placeholder it may hold is {iters}'),
    (SMOKE_PLAN, ['--only', 'vae/beta3'],
     "arm 'vae' has no candidate 'beta3'; its candidates: ['beta0.5', "
     "'beta8']"),
])
def test_bad_plans_and_options_are_explained(plan_text, argv, message,
                                             tmp_path, capsys):
    (tmp_path / 'data' / 'train').mkdir(parents=True)
    for i in range(10):
        (tmp_path / 'data' / 'train' / f'{i:05d}.png').write_bytes(b'')
    plan = _write_plan(tmp_path / 'plan.py', plan_text)
    code = study.main(argv + [
        '--plan', plan, '--data-root',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'w')
    ])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'w').exists()


def test_a_missing_plan_file_is_named(tmp_path, capsys):
    assert study.main(['--plan', str(tmp_path / 'none.py')]) == 2
    assert 'no such file' in capsys.readouterr().err
    assert REPO.joinpath('configs/studies/fashion-mnist-32.py').is_file()
