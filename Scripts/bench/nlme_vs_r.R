# The R side of nlme_vs_r.sh: times R nlme fits of the two problems of Examples/nlme.
#
# Run from the package root (nlme_vs_r.sh does):
#
#   Rscript Scripts/bench/nlme_vs_r.R [--repeat N]
#
# Prints one JSON object per line on stdout: first {"kind": "session", ...} (R, nlme and BLAS
# versions), then {"kind": "fit", ...} for each timed fit. Everything else goes to stderr.
#
# The clock (proc.time()'s elapsed) runs around the nlme() call only: R start-up, loading nlme and
# reading the data are outside. Each problem is fitted once untimed first, so that lazy loading and
# byte-compiling nlme's R code on first use are not counted either. nlme runs on one thread.
#
# Problems (the data are the CSV files cartsim fits, checked against the copies shipped with R):
#
# - pheno: nlme::Phenobarb with nlme's own phenoModel, fm1Pheno.nlme of Pinheiro & Bates (2000) §6.4:
#   log CL and log V with diagonal random effects, no weight or Apgar covariates, additive error.
#   (Examples/nlme/pheno.mod has CL and V proportional to weight, V shifted for Apgar < 5, and
#   proportional error, so the two objective values are of different models.)
# - indometh: datasets::Indometh, SSbiexp, fm2Indom.nlme of Pinheiro & Bates (2000) §6.2, as in
#   ../shared/estimation/indometh/indometh-nlme.R: the same model as Examples/nlme/indometh.mod.
#   No start is given, so the timed nlme() call includes nlme's nlsList() start.
#
# Both are maximum likelihood fits (method = "ML", Lindstrom–Bates); the objective is reported as
# NONMEM's OFV, -2 logLik - n log(2 pi) with n the number of concentrations.

suppressPackageStartupMessages(library(nlme))

args <- commandArgs(trailingOnly = TRUE)
repeats <- 5L
i <- 1L
while (i <= length(args)) {
  if (args[i] == "--repeat" && i < length(args)) {
    repeats <- as.integer(args[i + 1L])
    i <- i + 2L
  } else {
    stop("usage: Rscript Scripts/bench/nlme_vs_r.R [--repeat N]")
  }
}
stopifnot(!is.na(repeats), repeats >= 1L)

# ---- Data: the CSV files of Examples/nlme, in the layout nlme's models expect ----

# pheno.csv has NONMEM's columns (ID TIME AMT WGT APGR DV ...): a row with AMT > 0 is a dose, any
# other row a concentration. Phenobarb has NA for the missing one of dose and conc.
p <- read.csv("Examples/nlme/pheno.csv")
pheno <- data.frame(Subject = p$ID, time = p$TIME,
                    dose = ifelse(p$AMT > 0, p$AMT, NA), conc = ifelse(p$AMT > 0, NA, p$DV))
ref <- as.data.frame(Phenobarb)
stopifnot(nrow(pheno) == nrow(ref),
          all(pheno$Subject == as.integer(as.character(ref$Subject))),
          isTRUE(all.equal(pheno$time, ref$time)),
          identical(is.na(pheno$dose), is.na(ref$dose)), isTRUE(all.equal(pheno$dose, ref$dose)),
          identical(is.na(pheno$conc), is.na(ref$conc)), isTRUE(all.equal(pheno$conc, ref$conc)))
pheno <- groupedData(conc ~ time | Subject, data = pheno)

indometh <- read.csv("Examples/nlme/indometh.csv")
ref <- as.data.frame(Indometh)
stopifnot(nrow(indometh) == nrow(ref),
          all(indometh$Subject == as.integer(as.character(ref$Subject))),
          isTRUE(all.equal(indometh$time, ref$time)), isTRUE(all.equal(indometh$conc, ref$conc)))
indometh <- groupedData(conc ~ time | Subject, data = indometh)

# ---- The fits ----

problems <- list(
  pheno = list(
    n = sum(!is.na(pheno$conc)),
    fit = function() {
      nlme(conc ~ phenoModel(Subject, time, dose, lCl, lV), data = pheno,
           fixed = lCl + lV ~ 1, random = pdDiag(lCl + lV ~ 1), start = c(-5, 0),
           na.action = NULL, naPattern = ~ !is.na(conc), method = "ML")
    }),
  indometh = list(
    n = nrow(indometh),
    fit = function() {
      nlme(conc ~ SSbiexp(time, A1, lrc1, A2, lrc2), data = indometh,
           fixed = A1 + lrc1 + A2 + lrc2 ~ 1, random = pdDiag(A1 + lrc1 + A2 ~ 1), method = "ML")
    })
)

# ---- JSON output (no package needed) ----

num <- function(x) ifelse(is.finite(x), trimws(formatC(x, digits = 17, format = "g")), "null")
str_json <- function(s) paste0("\"", gsub("[\r\n\t]", " ", gsub("([\"\\\\])", "\\\\\\1", s)), "\"")
obj <- function(x) paste0("{", paste0(str_json(names(x)), ": ", num(unname(x)), collapse = ", "), "}")
line <- function(fields) cat(paste0("{", paste(str_json(names(fields)), fields, sep = ": ", collapse = ", "), "}\n"))

# One fit, timed; a failure (nlme stops when it does not converge) is recorded, not raised.
# Warnings are collected and recorded too.
timed_fit <- function(problem) {
  warnings <- character(0)
  gc()
  t0 <- proc.time()[["elapsed"]]
  m <- withCallingHandlers(
    tryCatch(problem$fit(), error = function(e) e),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  seconds <- proc.time()[["elapsed"]] - t0
  list(model = m, seconds = seconds, warnings = warnings)
}

blas <- tryCatch(basename(extSoftVersion()[["BLAS"]]), error = function(e) "")
line(list(kind = str_json("session"), R = str_json(R.version.string),
          nlme = str_json(as.character(packageVersion("nlme"))), blas = str_json(blas)))

for (name in names(problems)) {
  problem <- problems[[name]]
  invisible(timed_fit(problem))  # untimed first fit: first-use loading and byte compilation
  for (k in seq_len(repeats)) {
    r <- timed_fit(problem)
    m <- r$model
    fields <- list(kind = str_json("fit"), problem = str_json(name), rep = k,
                   seconds = sprintf("%.6f", r$seconds), n_obs = problem$n)
    if (inherits(m, "error")) {
      fields$error <- str_json(conditionMessage(m))
    } else {
      ll <- as.numeric(logLik(m))
      re_sd <- sqrt(diag(pdMatrix(m$modelStruct$reStruct[[1]]))) * m$sigma
      fields <- c(fields, list(
        logLik = num(ll), ofv = num(-2 * ll - problem$n * log(2 * pi)),
        fixed = obj(fixef(m)), random_sd = obj(re_sd), residual_sd = num(m$sigma),
        iterations = m$numIter))
    }
    fields$warnings <- paste0("[", paste(vapply(r$warnings, str_json, ""), collapse = ", "), "]")
    line(fields)
    message(sprintf("R nlme %s, fit %d: %.3f s%s", name, k, r$seconds,
                    if (inherits(m, "error")) paste(":", conditionMessage(m)) else ""))
  }
}
