"""Installs mmintrovae, the IntroVAE plugin for OpenMMLab's mmagic."""
from setuptools import find_packages, setup


def readme() -> str:
    """Returns the README's text for the package's long description."""
    with open('README.md', encoding='utf-8') as f:
        return f.read()


setup(
    name='mmintrovae',
    version='0.1.0',
    description='IntroVAE (Huang et al., NeurIPS 2018) as an mmagic plugin',
    long_description=readme(),
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # A user who already has a working mmagic environment can `pip install -e .` into it;
    # tools/setup_env.sh builds a fresh one with the exact pins of requirements/.
    install_requires=[
        'torch>=1.13',
        'mmengine>=0.10.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmagic>=1.2.0',
        'pluggy>=1.3',
        'opencv-python',
        'numpy<2',
    ],
    extras_require={'tests': ['pytest', 'flake8', 'isort', 'interrogate']},
    # The built-in plugin is registered by the plugin manager itself; third
    # parties add entry points to the group 'mmintrovae'.
    license='Apache License 2.0',
)
