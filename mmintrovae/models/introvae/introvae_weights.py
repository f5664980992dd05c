"""The loss weights of IntroVAE: the paper's (alpha, beta) or the authors'.

The paper (eq. 11/12) and the authors' ``main.py`` weight the same terms
differently. Both are reduced here to one set of coefficients, so that a
config can use either set of published hyper-parameters with its meaning.
"""
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class IntroVAEWeights:
    """Coefficients of every term of L_E, L_G and the plain-VAE warm-up.

    ``L_E = kl_real * L_REG(x) + hinge * ([m - KL_r]^+ + [m - KL_p]^+)
    + rec * L_AE`` and ``L_G = adversarial * (KL_r + KL_p) + rec * L_AE``;
    the warm-up minimises ``warmup_kl * L_REG(x) + warmup_rec * L_AE``.

    Args:
        kl_real (float): Weight of the real images' KL in L_E.
        hinge (float): Weight of the margin hinges in L_E (paper: alpha).
        adversarial (float): Weight of the fakes' KL in L_G (paper: alpha).
        rec (float): Weight of L_AE in L_E and L_G (paper: beta).
        warmup_kl (float): Weight of the KL in the plain-VAE warm-up.
        warmup_rec (float): Weight of L_AE in the plain-VAE warm-up.
    """

    kl_real: float
    hinge: float
    adversarial: float
    rec: float
    warmup_kl: float
    warmup_rec: float

    @classmethod
    def from_paper(cls, alpha: float, beta: float) -> 'IntroVAEWeights':
        """The paper's weights: L_E and L_G share alpha and beta.

        Args:
            alpha (float): Weight of the adversarial terms; 0 is a VAE.
            beta (float): Weight of the reconstruction loss.

        Returns:
            IntroVAEWeights: The coefficients.
        """
        return cls(1.0, alpha, alpha, beta, 1.0, beta)

    @classmethod
    def from_authors(cls, weight_rec: float, weight_kl: float,
                     weight_neg: float) -> 'IntroVAEWeights':
        """The authors' ``main.py`` weights (``--weight_rec`` etc.).

        Their encoder loss is ``w_rec * L_AE + w_kl * (KL_real + 0.5 * w_neg
        * (hinge_rec + hinge_fake))``; their decoder loss is ``0.5 * w_kl *
        (KL_rec + KL_fake)`` plus the ``w_rec * grad(L_AE)`` left in the
        decoder's gradients by the encoder's backward (its ``zero_grad`` is
        commented out). So alpha_E = 0.5 * w_neg * w_kl, alpha_G = 0.5 * w_kl,
        beta = w_rec. Their warm-up (``train_vae``) minimises
        ``L_AE + KL_real`` unweighted.

        Args:
            weight_rec (float): ``--weight_rec``.
            weight_kl (float): ``--weight_kl``.
            weight_neg (float): ``--weight_neg``.

        Returns:
            IntroVAEWeights: The coefficients.
        """
        return cls(weight_kl, 0.5 * weight_neg * weight_kl, 0.5 * weight_kl,
                   weight_rec, 1.0, 1.0)

    @classmethod
    def from_config(cls, alpha: Optional[float], beta: Optional[float],
                    authors_weights: Optional[dict]) -> 'IntroVAEWeights':
        """Builds the weights from the model's config arguments.

        Args:
            alpha (float, optional): The paper's alpha (default 0.25).
            beta (float, optional): The paper's beta (default 0.5).
            authors_weights (dict, optional): ``weight_rec``, ``weight_kl``
                and ``weight_neg`` of the authors' scripts.

        Returns:
            IntroVAEWeights: The coefficients.
        """
        if authors_weights is None:
            weights = cls.from_paper(0.25 if alpha is None else alpha,
                                     0.5 if beta is None else beta)
        else:
            if alpha is not None or beta is not None:
                raise ValueError(
                    'IntroVAE: set either model.alpha/model.beta (the '
                    "paper's weights) or model.authors_weights (the authors' "
                    'scripts), not both.')
            expected = {'weight_rec', 'weight_kl', 'weight_neg'}
            if set(authors_weights) != expected:
                raise ValueError(
                    'IntroVAE: model.authors_weights must have exactly the '
                    f'keys {sorted(expected)}, got {sorted(authors_weights)}.')
            weights = cls.from_authors(**authors_weights)
        for name, value in vars(weights).items():
            if not value >= 0:
                raise ValueError(
                    f'IntroVAE: the loss weight {name}={value!r} derived from '
                    'model.alpha/beta/authors_weights must be >= 0.')
        return weights


@dataclass(frozen=True)
class SoftIntroVAEWeights:
    """The weights of the Soft-IntroVAE objective (Daniel & Tamar, 2021).

    Args:
        beta_rec (float): Weight of reconstruction errors.
        beta_kl (float): Weight of the real images' KL (and, halved, of the
            fakes' KL in the decoder loss).
        beta_neg (float): Weight of the fakes' KL inside the exp-ELBO.
        gamma_r (float): Weight of the fakes' reconstruction errors in the
            decoder loss.
    """

    beta_rec: float
    beta_kl: float
    beta_neg: float
    gamma_r: float

    @classmethod
    def from_config(cls,
                    cfg: Optional[dict],
                    base_config: str = '') -> 'SoftIntroVAEWeights':
        """Builds the weights from ``model.soft_weights``, checking keys.

        Args:
            cfg (dict, optional): All four fields.
            base_config (str): The ``_base_`` config holding their defaults,
                named by the error for a missing field.

        Returns:
            SoftIntroVAEWeights: The weights.
        """
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise KeyError(
                f'SoftIntroVAE: unknown key(s) {sorted(unknown)} in '
                'model.soft_weights; expected '
                f'{sorted(cls.__dataclass_fields__)}.')
        missing = [
            name for name in cls.__dataclass_fields__ if name not in cfg
        ]
        if missing:
            raise KeyError(
                f'SoftIntroVAE: model.soft_weights has no {missing}; it must '
                f'give {list(cls.__dataclass_fields__)}. Inherit '
                f"{base_config or 'the _base_ model config'} (in the "
                "config's _base_), which holds their defaults, or copy them "
                'from it.')
        weights = cls(**cfg)
        for name, value in vars(weights).items():
            if not value >= 0:
                raise ValueError(f'SoftIntroVAE: model.soft_weights.{name}='
                                 f'{value!r} must be >= 0.')
        return weights
