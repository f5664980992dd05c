# The plan of `make study` (tools/study.py --plan): IntroVAE and
# Soft-IntroVAE against the best plain VAE on Fashion-MNIST at 32x32, all
# with the same networks, data and budget.
#
# Stage 1 (select): every candidate of every arm is trained once (seed
# `select_seed`) on the training images less the last `select_images`, and
# scored by FID on those held-back training images; the arm keeps its
# lowest-FID candidate (a run stopped by the stability guard cannot win).
# Stage 2 (report): each arm's pick is trained with every seed on the same
# images and evaluated on the 10,000 test images (data/fashion_mnist/val),
# which no selection ever saw. Ratios are to the picked VAE.
#
# Budgets go from the smallest up. At each budget after the smallest, an
# arm's selection trains only its `promote` lowest-FID candidates of the
# budget before (successive halving, Jamieson & Talwalkar 2016); the others
# are listed as pruned with their rank. It works within one command's
# budgets: `--iters 3000` alone trains every candidate at 3,000.
#
# A candidate is a set of --cfg-options of its arm's config, plus
# `warmup_share`: the share of the budget spent in the plain-VAE warm-up
# (IntroVAE's margin is measured at its end); without it the config's own
# share (300 / 1,200) scales with the budget.
baseline = 'vae'
select_images = 5000
select_seed = 100
seeds = [0, 1, 2]
budgets = [1200, 3000]  # --iters 1200 3000 10000 for a longer curve
# 3 of 4 or 5: at 1,200 its one seed's FIDs of the candidates are within
# the seed spread (about 6) of each other, except the clear losers.
promote = 3
num_eval = 10000
# A run keeps its latest checkpoint every this many iterations (and its
# last): a study killed mid-run (e.g. at the end of a session) loses at
# most that much of the run; not part of what a run computes.
checkpoint_every = 500

arms = {
    # A plain VAE: L = L_REG + beta * L_AE (alpha = 0), L_AE = 1/2 SSE.
    # beta sets the weight of the reconstruction against the KL (the one
    # free ratio of the ELBO; Adam makes the overall scale irrelevant):
    # 0.5 is IntroVAE's, 2 to 32 give sharper, less regular posteriors.
    'vae': dict(
        config='configs/vae_fashion-mnist-32.py',
        candidates=[
            dict(name='beta0.5', options={}),
            dict(name='beta2', options={'model.beta': 2.0}),
            dict(name='beta8', options={'model.beta': 8.0}),
            dict(name='beta32', options={'model.beta': 32.0}),
        ]),
    # A handful of IntroVAE settings around the config, one change each.
    'introvae': dict(
        config='configs/introvae_fashion-mnist-32.py',
        candidates=[
            dict(name='config', options={}),
            dict(name='alpha0.1', options={'model.alpha': 0.1}),
            dict(name='beta2', options={'model.beta': 2.0}),
            dict(
                name='margin1.2',
                options={'model.loss_config.margin_loss.auto_factor': 1.2}),
            dict(name='warmup0.5', options={'warmup_share': 0.5}),
        ]),
    # Soft-IntroVAE's two weights of the introspective game.
    'soft-introvae': dict(
        config='configs/soft-introvae_fashion-mnist-32.py',
        candidates=[
            dict(name='config', options={}),
            dict(name='beta_neg512',
                 options={'model.soft_weights.beta_neg': 512.}),
            dict(name='beta_neg1024',
                 options={'model.soft_weights.beta_neg': 1024.}),
            dict(name='beta_kl0.5',
                 options={'model.soft_weights.beta_kl': 0.5}),
        ]),
}
