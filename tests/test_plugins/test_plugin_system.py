"""Plugins: an installed distribution's entry point extends mmintrovae."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PLUGIN = '''
import torch.nn as nn
from mmintrovae.plugins import hookimpl
from mmintrovae.models import IntroVAEEncoder


class PluginEncoder(IntroVAEEncoder):
    """An encoder a third party ships; marks itself so tests can see it."""
    from_plugin = True


@hookimpl
def mmintrovae_register_modules(registries):
    if {fail!r}:
        raise RuntimeError('the plugin is broken on purpose')
    registries.MODELS.register_module(module=PluginEncoder)


@hookimpl
def mmintrovae_config_presets():
    return {{'plugin-tiny': {config!r}}}
'''

CONFIG = '''
_base_ = [{demo!r}]
custom_imports = None  # the plugin must load without custom_imports
model = dict(
    encoder=dict(type='PluginEncoder', image_size=16, channels=(4, 8),
                 latent_dim=6),
    decoder=dict(image_size=16, channels=(4, 8), latent_dim=6),
    vae_warmup_iters=1)
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageOrSkip', key='gt'),
    dict(type='Resize', keys='gt', scale=(16, 16)),
    dict(type='PackInputs'),
]))
'''


def install_plugin(site: Path, name: str, fail: bool = False) -> Path:
    """Writes a plugin package and its dist-info with an entry point."""
    config = site / f'{name}_tiny.py'
    config.write_text(
        CONFIG.format(demo=str(REPO / 'configs' / 'introvae_demo-64.py')))
    (site / name).mkdir()
    (site / name / '__init__.py').write_text(
        PLUGIN.format(fail=fail, config=str(config)))
    dist = site / f'{name}-0.1.dist-info'
    dist.mkdir()
    (dist / 'METADATA'
     ).write_text(f'Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n')
    (dist / 'entry_points.txt').write_text(f'[mmintrovae]\n{name} = {name}\n')
    return config


def run(code: str, site: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f'{site}{os.pathsep}{REPO}')
    return subprocess.run(
        [sys.executable, *args] if args else
        [sys.executable, '-c', textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300)


def test_entry_point_plugin_registers_an_encoder(tmp_path):
    install_plugin(tmp_path, 'mmintrovae_testplugin')
    result = run(
        '''
        import mmintrovae
        from mmagic.registry import MODELS
        from mmintrovae.plugins import get_plugin_manager, resolve_config
        names = [n for n, _ in get_plugin_manager().list_name_plugin()]
        assert 'mmintrovae_testplugin' in names, names
        enc = MODELS.build(dict(type='PluginEncoder', image_size=16,
                                channels=(4, 8), latent_dim=6))
        assert enc.from_plugin
        print('preset', resolve_config('plugin-tiny'))
        ''', tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mmintrovae_testplugin_tiny.py' in result.stdout


def test_train_tool_uses_the_plugin_without_custom_imports(tmp_path):
    install_plugin(tmp_path, 'mmintrovae_testplugin')
    data = tmp_path / 'data'
    prep = run(
        f'''
        import sys
        sys.path.insert(0, 'tools')  # cwd is the repository
        from synthetic_faces import make_synthetic_faces
        make_synthetic_faces({str(data)!r}, 8, size=16)
        ''', tmp_path)
    assert prep.returncode == 0, prep.stderr[-2000:]
    result = run(
        '', tmp_path, 'tools/train.py', 'plugin-tiny', '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', 'train_cfg.max_iters=2',
        f'train_dataloader.dataset.data_root={data}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'custom_hooks=[]',
        'train_cfg.val_begin=1000', 'val_dataloader=None', 'val_cfg=None',
        'val_evaluator=None', 'test_dataloader=None', 'test_cfg=None',
        'test_evaluator=None')
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'work' / 'iter_2.pth').exists()


def test_failing_hook_names_the_plugin(tmp_path):
    install_plugin(tmp_path, 'mmintrovae_brokenplugin', fail=True)
    result = run('import mmintrovae', tmp_path)
    assert result.returncode != 0
    assert ("mmintrovae plugin 'mmintrovae_brokenplugin' failed in its hook "
            'mmintrovae_register_modules') in result.stderr
    assert 'broken on purpose' in result.stderr


def test_builtin_modules_register_by_import_not_through_the_hook():
    # One way to register mmintrovae's own classes: their decorators, run by
    # `import mmintrovae`; the hook is only for installed plugins.
    from mmagic.registry import MODELS

    from mmintrovae.plugins import get_plugin_manager
    manager = get_plugin_manager()
    impls = manager.hook.mmintrovae_register_modules.get_hookimpls()
    assert 'mmintrovae.builtin' not in [i.plugin_name for i in impls]
    assert MODELS.get('IntroVAE').__module__ == (
        'mmintrovae.models.introvae.introvae')


def test_unknown_config_name_lists_where_it_looked():
    from mmintrovae.plugins import resolve_config
    with pytest.raises(FileNotFoundError, match='neither a file'):
        resolve_config('no-such-config')


def test_hooks_are_called_through_pluggy_builtin_first():
    from mmintrovae.plugins import call_hook, get_plugin_manager, hookimpl

    class Extra:

        @hookimpl
        def mmintrovae_config_presets(self):
            return {'demo': 'overridden.py'}

    manager = get_plugin_manager()
    manager.register(Extra(), name='extra')
    try:
        results = call_hook('mmintrovae_config_presets')
        assert results == manager.hook.mmintrovae_config_presets()
        assert results[0]['demo'].endswith('introvae_demo-64.py')
        assert results[-1] == {'demo': 'overridden.py'}
        from mmintrovae.plugins import config_presets
        assert config_presets()['demo'] == 'overridden.py'
    finally:
        manager.unregister(name='extra')
