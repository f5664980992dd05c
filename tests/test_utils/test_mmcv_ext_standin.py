"""mmcv without its compiled ops: the stand-in for ``mmcv._ext``.

``make setup`` installs mmcv-lite (mmcv 2.1.0 without ops) and a ``.pth``
file that installs :mod:`mmintrovae.utils.mmcv_ext_standin` at every
interpreter start; ``make setup MMCV_OPS=1`` builds the real ops and removes
the ``.pth``. The tests run in fresh interpreters, as every entry point
starts, and hold in both set-ups: where the real ops are installed, the
stand-in must not be active.
"""
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO, subprocess_env

from mmintrovae.utils.mmcv_ext_standin import BUILD_COMMAND


def _python(code: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        cwd=cwd,
        env=subprocess_env(REPO / 'tests', REPO),
        capture_output=True,
        text=True,
        timeout=240)


def _has_real_ops() -> bool:
    proc = _python('''
        import mmcv._ext as ext
        print(getattr(ext, 'mmintrovae_standin', False))
    ''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1] == 'False'


def test_mmcv_op_call_names_the_op_and_the_fix():
    if _has_real_ops():
        pytest.skip('mmcv is installed with its compiled ops (MMCV_OPS=1): '
                    'no stand-in to test')
    proc = _python('''
        import torch
        import mmagic.models  # imports mmcv.ops
        from mmcv.ops import ModulatedDeformConv2d, nms
        from mmcv.utils import collect_env
        print(collect_env()['MMCV Compiler'])
        try:
            nms(torch.rand(3, 4), torch.rand(3), 0.5)
        except Exception as err:
            print(type(err).__name__, err)
    ''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-2] == 'n/a (mmcv installed without its compiled ops)'
    assert lines[-1] == (
        "MissingMMCVOpError mmcv op 'nms' is not available: mmcv 2.1.0 was "
        "installed without its compiled ops (mmcv-lite, mmintrovae's default "
        'set-up), and mmcv._ext is only a stand-in. IntroVAE needs no mmcv '
        'op; to build them (about 15 minutes on 2 cores, kept in the wheel '
        f'cache afterwards) run: {BUILD_COMMAND}')
    assert BUILD_COMMAND == 'make setup MMCV_OPS=1'


def test_model_trains_and_evaluates_with_the_standin():
    """A fresh interpreter (as tools/train.py starts) trains and evaluates
    an IntroVAE step with whatever mmcv._ext is installed, and says which."""
    proc = _python('''
        import conftest
        import mmcv._ext as ext
        import torch
        from mmagic.registry import MODELS
        model = MODELS.build(conftest.tiny_model_cfg())
        data = conftest.make_batch(4)
        logs = model.train_step(data, conftest.make_optim_wrappers(model))
        assert torch.isfinite(logs['loss_vae'] if 'loss_vae' in logs
                              else logs['loss_encoder'])
        model.eval()
        out = model.val_step(data)
        assert len(out) == 4 and out[0].fake_img.shape[-1] == 16
        print('standin', getattr(ext, 'mmintrovae_standin', False))
    ''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] in ('standin True',
                                                    'standin False')


def test_real_extension_wins_over_the_standin(tmp_path):
    """Where mmcv has a real _ext (here a module placed on mmcv's path, as
    a built extension would be), the stand-in's finder is never asked."""
    (tmp_path / '_ext.py').write_text('def nms(*args):\n    return "real"\n')
    proc = _python(f'''
        import sys
        import mmcv
        mmcv.__path__.insert(0, {str(tmp_path)!r})
        import mmcv._ext as ext
        finders = [type(f).__name__ for f in sys.meta_path]
        print(getattr(ext, 'mmintrovae_standin', False), ext.nms(),
              finders[-1])
    ''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    standin_active = not _has_real_ops()
    out = proc.stdout.strip().splitlines()[-1].split()
    assert out[:2] == ['False', 'real']
    if standin_active:  # installed last, so asked only when nothing found
        assert out[2] == 'MMCVExtStandInFinder'


def test_standin_module_imports_nothing_heavy():
    """The .pth runs it at every interpreter start: no torch/mmcv there."""
    proc = _python(f'''
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location(
            'standin_probe',
            {str(REPO / 'mmintrovae' / 'utils' / 'mmcv_ext_standin.py')!r})
        module = importlib.util.module_from_spec(spec)
        before = set(sys.modules)
        spec.loader.exec_module(module)
        new = set(sys.modules) - before
        print(sorted(m for m in new if m.split('.')[0] in (
            'torch', 'mmcv', 'mmagic', 'mmengine', 'mmintrovae')))
    ''')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == '[]'
