"""mmintrovae.utils.read_config and load_config: the one way configs load."""
import os.path as osp
from argparse import Namespace

import pytest

from mmintrovae.utils import load_config, read_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'introvae_demo-64.py')


def test_read_config_reads_a_file_with_overrides():
    cfg = read_config(DEMO, {'train_cfg.max_iters': 7})
    assert cfg.filename == DEMO
    assert cfg.train_cfg.max_iters == 7
    assert read_config(DEMO).train_cfg.max_iters != 7


def test_read_config_names_what_it_cannot_find():
    with pytest.raises(FileNotFoundError, match='no-such-config'):
        read_config('no-such-config')


def test_load_config_applies_the_runner_options(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = Namespace(
        config=DEMO,
        cfg_options={'train_cfg.max_iters': 3},
        work_dir=None,
        launcher='none',
        local_rank=0)
    cfg = load_config(args)
    assert cfg.train_cfg.max_iters == 3
    assert cfg.launcher == 'none'
    assert cfg.work_dir == osp.join('./work_dirs', 'introvae_demo-64')
