"""tools/demo_app.py: its pure functions and model calls in-process, the
start-up check of the checkpoint, and the page itself in a headless Chromium
(Debian's chromium + chromium-driver, driven by selenium)."""
import math
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import torch
from conftest import load_tool
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'demo_app.py')
CONFIG = osp.join(ROOT, 'configs', 'introvae_fashion-mnist-32.py')
INSTALL_CHROMIUM = (
    'Install Debian\'s Chromium and its WebDriver: `sudo apt-get install '
    'chromium chromium-driver` (or run `make setup` as root).')

demo_app = load_tool('demo_app')


def _save_random_checkpoint(cfg, path: str) -> None:
    """The config's model with fresh random weights, as a checkpoint."""
    from mmagic.registry import MODELS
    from mmengine.registry import DefaultScope
    from mmengine.runner import save_checkpoint
    torch.manual_seed(0)
    # Module-scoped fixtures run before the autouse mmagic_scope fixture:
    # set the config's scope here, whatever an earlier test left current.
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmagic')):
        weights = MODELS.build(cfg.model).state_dict()
    save_checkpoint(dict(meta={}, state_dict=weights), path)


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    """The Fashion-MNIST config with an EMA decoder, a random-weights
    checkpoint of it, a mismatching checkpoint (the 64 px demo model) and
    four 64x64 synthetic faces to upload."""
    from mmengine.config import Config
    make_synthetic_faces = load_tool('synthetic_faces').make_synthetic_faces
    tmp = tmp_path_factory.mktemp('demo_app')
    config = tmp / 'introvae_ema.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\n'
                      'model = dict(ema_config=dict(momentum=0.001))\n')
    checkpoint = str(tmp / 'random.pth')
    _save_random_checkpoint(Config.fromfile(str(config)), checkpoint)
    other = str(tmp / 'other.pth')
    _save_random_checkpoint(
        Config.fromfile(osp.join(ROOT, 'configs', 'introvae_demo-64.py')),
        other)
    make_synthetic_faces(str(tmp / 'faces'), 4, size=64, seed=0)
    faces = sorted(str(p) for p in (tmp / 'faces' / 'train').glob('*.png'))
    return dict(
        config=str(config),
        checkpoint=checkpoint,
        other=other,
        faces=faces,
        tmp=tmp)


@pytest.fixture(scope='module')
def page(model_files):
    """The tool's ModelPage on the random-weights EMA model."""
    _, model = demo_app.load_model(model_files['config'],
                                   model_files['checkpoint'])
    return demo_app.ModelPage(model)


# ----------------------------------------------------------------------
# Pure functions.
# ----------------------------------------------------------------------
def _write(path, array: np.ndarray) -> str:
    """Saves an array as an image file (its mode follows the array)."""
    Image.fromarray(array).save(path)
    return str(path)


def test_read_image_refuses_a_non_image_with_its_name(tmp_path):
    fake = tmp_path / 'notes.png'
    fake.write_text('a text file renamed to .png')
    with pytest.raises(demo_app.InputError, match='notes.png is not an image'):
        demo_app.read_image(str(fake))
    with pytest.raises(demo_app.InputError, match='upload image A first'):
        demo_app.read_image(None, 'image A')


def test_read_image_refuses_big_files_and_sides_naming_the_limits(tmp_path):
    big = tmp_path / 'big.png'
    with open(big, 'wb') as f:
        f.truncate(21 * 2**20)  # sparse: no 21 MB written
    with pytest.raises(demo_app.InputError) as info:
        demo_app.read_image(str(big))
    assert 'big.png is 21.0 MB' in str(info.value)
    assert 'at most 20 MB and 4096 px a side' in str(info.value)
    wide = _write(tmp_path / 'wide.png', np.zeros((2, 4097), np.uint8))
    with pytest.raises(demo_app.InputError) as info:
        demo_app.read_image(wide)
    assert 'wide.png is 4097x2 px' in str(info.value)
    assert 'at most 20 MB and 4096 px a side' in str(info.value)
    # 4096 px itself is allowed.
    edge = _write(tmp_path / 'edge.png', np.zeros((2, 4096), np.uint8))
    assert demo_app.read_image(edge)[0].shape == (2, 4096, 3)


# Image mode, array shape and dtype (all pixels at 100 in 8 bits), note.
CONVERSIONS = [
    ('L', (5, 7), np.uint8, 'converted from grey to RGB'),
    ('RGBA', (5, 7, 4), np.uint8, 'converted from RGBA to RGB (alpha '
     'dropped)'),
    ('LA', (5, 7, 2), np.uint8, 'converted from grey + alpha to RGB (alpha '
     'dropped)'),
    ('I;16', (5, 7), np.uint16, 'converted from 16-bit grey to RGB'),
]


@pytest.mark.parametrize('mode, shape, dtype, note', CONVERSIONS)
def test_read_image_converts_other_channel_counts_to_rgb(
        tmp_path, mode, shape, dtype, note):
    level = 100 * 257 if dtype == np.uint16 else 100
    path = _write(tmp_path / 'image.png', np.full(shape, level, dtype))
    with Image.open(path) as image:
        assert image.mode == mode
    rgb, converted = demo_app.read_image(path)
    assert rgb.shape == (5, 7, 3) and rgb.dtype == np.uint8
    assert (rgb == 100).all()
    assert note in converted


def test_read_image_keeps_rgb_as_it_is(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (6, 9, 3), np.uint8)
    rgb, converted = demo_app.read_image(_write(tmp_path / 'a.png', array))
    assert converted == '' and (rgb == array).all()


def test_fit_to_model_centre_crops_then_resizes():
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, 20:60] = 200  # the centre square; the sides are cropped off
    fitted = demo_app.fit_to_model(image, 32)
    assert fitted.shape == (32, 32, 3) and (fitted == 200).all()
    small = np.full((16, 20, 3), 7, np.uint8)
    assert (demo_app.fit_to_model(small, 32) == 7).all()
    exact = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    assert (demo_app.fit_to_model(exact, 32) == exact).all()


def _hand_psnr(image: np.ndarray, other: np.ndarray) -> float:
    """PSNR in dB of two uint8 images, peak 255, over every value."""
    mse = np.mean((image.astype(np.float64) - other.astype(np.float64))**2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def test_page_psnr_is_mmagics_metric_in_db():
    from mmagic.evaluation.metrics import psnr as mmagic_psnr
    assert demo_app.psnr is mmagic_psnr
    zeros = np.zeros((4, 4, 3), np.uint8)
    assert demo_app.psnr(zeros, zeros, input_order='HWC') == math.inf
    one_level = demo_app.psnr(zeros, zeros + 1, input_order='HWC')  # MSE 1
    assert one_level == pytest.approx(20 * math.log10(255))
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (8, 8, 3), np.uint8) for _ in range(2))
    assert demo_app.psnr(
        a, b, input_order='HWC') == pytest.approx(
            _hand_psnr(a, b), rel=1e-6)


def test_check_number_names_the_field():
    assert demo_app.check_number('Seed', 3.0, 0, 10, True) == 3
    for value, match in ((11, 'between 0 and 10'), (2.5, 'a whole number'),
                         (math.inf, 'a whole number'), (None, 'a number'),
                         ('x', 'a number')):
        with pytest.raises(demo_app.InputError, match=f'Seed must be {match}'):
            demo_app.check_number('Seed', value, 0, 10, True)


# ----------------------------------------------------------------------
# The model calls, in-process.
# ----------------------------------------------------------------------
def test_sample_draws_seeded_noise_scaled_by_temperature(page):
    assert page.decoders == ['ema', 'orig']
    grid, status = page.sample(3, 4, 1.0, 'ema')
    # 2x2 grid of 32 px images, 2 px padding, enlarged 4x for the page.
    assert grid.shape == ((2 * 34 + 2) * 4, ) * 2 + (3, )
    assert 'seed 3' in status and 'decoder ema' in status
    assert (page.sample(3, 4, 1.0, 'ema')[0] == grid).all()
    assert not (page.sample(4, 4, 1.0, 'ema')[0] == grid).all()
    noise = page.prior_noise(3, 4, 0.5)
    assert torch.equal(noise, 0.5 * page.prior_noise(3, 4, 1.0))
    # The model's sampler (noise_fn) with the seed's generator: the codes
    # the page always drew.
    seeded = torch.randn(
        4, page.latent_dim, generator=torch.Generator().manual_seed(3))
    assert torch.equal(page.prior_noise(3, 4, 1.0), seeded)
    expected = demo_app.enlarge(
        page._rgb(page.model.sample(4, False, noise), 2), page.scale)
    assert (page.sample(3, 4, 0.5, 'orig')[0] == expected).all()
    flat = page.sample(0, 4, 0.0, 'orig')[0]
    cells = [flat[8:136, 8:136], flat[8:136, 144:272]]
    assert (cells[0] == cells[1]).all()  # z = 0 for every sample


def test_reconstruct_shows_input_beside_reconstruction_with_psnr(
        page, model_files):
    shown, rec, status = page.reconstruct(model_files['faces'][0], 'orig')
    assert shown.shape == rec.shape == (128, 128, 3)
    fitted = demo_app.fit_to_model(
        demo_app.read_image(model_files['faces'][0])[0], 32)
    assert (shown[::4, ::4] == fitted).all()
    value = _hand_psnr(fitted, rec[::4, ::4])
    assert f'PSNR {value:.2f} dB' in status, status
    assert '64x64 px, centre-cropped and resized to 32x32' in status


def test_reconstruct_converts_a_grey_upload(page, tmp_path):
    grey = _write(tmp_path / 'grey.png', np.full((40, 48), 90, np.uint8))
    shown, rec, status = page.reconstruct(grey, 'orig')
    assert shown.shape == rec.shape == (128, 128, 3)
    assert (shown == 90).all()
    assert 'grey.png: 48x40 px, converted from grey to RGB, centre-cropped ' \
        'and resized to 32x32' in status


def test_interpolate_between_seeds_and_between_images(page, model_files):
    strip, status = page.interpolate('two seeds', None, None, 0, 1, 5, 1.0,
                                     'orig')
    assert strip.shape == (36 * 4, (5 * 34 + 2) * 4, 3)
    codes = torch.cat([page.prior_noise(s, 1, 1.0) for s in (0, 1)])
    ends = page._rgb(page.model.sample(2, False, codes), 2)
    first = demo_app.enlarge(ends[2:34, 2:34], 4).astype(int)
    # t = 0 decodes seed A's code itself (batches of 5 and 2 may round
    # differently by one level).
    assert np.abs(strip[8:136, 8:136] - first).max() <= 1
    faces = model_files['faces']
    strip, status = page.interpolate('two images', *faces[:2], 0, 0, 3, 1.0,
                                     'ema')
    assert strip.shape == (36 * 4, (3 * 34 + 2) * 4, 3)
    assert '3 steps' in status and 'decoder ema' in status


def test_page_handlers_report_bad_input_in_the_status(page, tmp_path):
    fake = tmp_path / 'fake.jpg'
    fake.write_bytes(b'\xff\xd8 not really a JPEG')
    reconstruct = demo_app.on_page(page.reconstruct, 2)
    shown, rec, status = reconstruct(str(fake), 'orig')
    assert shown is None and rec is None
    assert status.startswith('Error: fake.jpg is not an image')
    interpolate = demo_app.on_page(page.interpolate, 1)
    assert interpolate('two images', None, None, 0, 0, 4, 1.0,
                       'orig') == (None,
                                   'Error: No file: upload image A first.')
    assert 'Steps must be between 2 and 16' in interpolate(
        'two seeds', None, None, 0, 1, 40, 1.0, 'orig')[1]


def test_start_up_fails_on_a_mismatching_checkpoint(model_files):
    with pytest.raises(SystemExit) as info:
        demo_app.main([model_files['config'], model_files['other']])
    message = str(info.value.code)
    assert model_files['config'] in message
    assert model_files['other'] in message
    assert 'encoder.main.0.weight: checkpoint (16, 3, 5, 5), model ' \
        '(32, 3, 5, 5)' in message
    assert 'missing from the checkpoint' in message
    with pytest.raises(SystemExit, match='can not be found'):
        demo_app.main([model_files['config'], 'no/such.pth'])


# ----------------------------------------------------------------------
# The page in a browser.
# ----------------------------------------------------------------------
def _free_port() -> int:
    """A local TCP port nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def app_url(model_files):
    """tools/demo_app.py serving the random-weights model on a free port."""
    tmp = model_files['tmp']
    port = _free_port()
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        GRADIO_TEMP_DIR=str(tmp / 'gradio'),
        GRADIO_ANALYTICS_ENABLED='False')
    log = open(tmp / 'app.log', 'w')
    command = [
        sys.executable, TOOL, model_files['config'], model_files['checkpoint'],
        f'--port={port}'
    ]
    proc = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.time() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail('demo_app exited: ' +
                            (tmp / 'app.log').read_text()[-3000:])
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail('demo_app did not answer within 120 s: ' +
                            (tmp / 'app.log').read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope='module')
def browser():
    """A headless Chromium through Debian's chromedriver."""
    chromium = shutil.which('chromium')
    driver = shutil.which('chromedriver')
    if chromium is None or driver is None:
        pytest.fail(f'No chromium/chromedriver on PATH. {INSTALL_CHROMIUM}')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', '--window-size=1280,1400'):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


def _image_width(browser, elem_id: str) -> int:
    """The decoded width of the image in a component, 0 until it shows."""
    return browser.execute_script(
        'const img = document.querySelector(arguments[0]);'
        'return img && img.complete ? img.naturalWidth : 0;',
        f'#{elem_id} img')


def _status(browser, elem_id: str) -> str:
    """The text of a tab's status box."""
    from selenium.webdriver.common.by import By
    return browser.find_element(By.CSS_SELECTOR,
                                f'#{elem_id} textarea').get_attribute('value')


def _tab(browser, name: str) -> None:
    """Opens a tab of the page."""
    from selenium.webdriver.common.by import By
    tabs = browser.find_elements(By.CSS_SELECTOR, 'button[role=tab]')
    assert name in [t.text for t in tabs]
    next(t for t in tabs if t.text == name).click()


def test_page_samples_reconstructs_and_refuses_bad_uploads(
        browser, app_url, model_files, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(browser, 60)
    browser.get(app_url)
    button = wait.until(
        lambda b: b.find_elements(By.CSS_SELECTOR, '#sample-button'))[0]
    decoders = browser.find_elements(By.CSS_SELECTOR, '#decoder input')
    assert [d.get_attribute('value') for d in decoders] == ['ema', 'orig']

    button.click()  # 16 samples: a 4x4 grid of 34 px cells, 4x enlarged
    wait.until(lambda b: _image_width(b, 'sample-output'))
    assert _image_width(browser, 'sample-output') == (4 * 34 + 2) * 4
    assert 'samples, seed 0' in _status(browser, 'sample-status')

    _tab(browser, 'Reconstruct')
    fake = tmp_path / 'notes.png'
    fake.write_text('a text file renamed to .png')
    upload = '#rec-upload input[type=file]'
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, upload))
    browser.find_element(By.CSS_SELECTOR, upload).send_keys(str(fake))
    wait.until(lambda b: _status(b, 'rec-status'))
    assert _status(browser, 'rec-status').startswith(
        'Error: notes.png is not an image this app can read')
    assert _image_width(browser, 'rec-output') == 0

    # The app keeps running: clear the upload, send a real image.
    browser.find_element(By.CSS_SELECTOR,
                         '#rec-upload button[aria-label=Clear]').click()
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, upload))
    browser.find_element(By.CSS_SELECTOR,
                         upload).send_keys(model_files['faces'][0])
    wait.until(lambda b: 'dB' in _status(b, 'rec-status'))
    wait.until(lambda b: _image_width(b, 'rec-output'))
    assert _image_width(browser, 'rec-output') == 32 * 4
    assert _image_width(browser, 'rec-input') == 32 * 4
    status = _status(browser, 'rec-status')
    assert status.startswith('PSNR ') and 'decoder ema' in status
    assert '64x64 px, centre-cropped and resized to 32x32' in status

    _tab(browser, 'Interpolate')
    browser.find_element(By.CSS_SELECTOR, '#interp-button').click()
    wait.until(lambda b: _image_width(b, 'interp-output'))
    assert _image_width(browser, 'interp-output') == (8 * 34 + 2) * 4
    assert 'seeds 0 and 1' in _status(browser, 'interp-status')
    screenshot = tmp_path / 'app.png'
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 0
