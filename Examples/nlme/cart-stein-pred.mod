$PROBLEM CAR T cellular kinetics (Stein et al. 2019), closed form: simulated study, M3 for values below the LLOQ
; The Stein model of Examples/nlme/cart-stein.mod written as its closed-form solution in $PRED, so
; the ODE path ($DES, ADVAN13, MTIME) can be checked against it: same parameters, same order, same
; data. Transgene copies/ug gDNA, time in days.
;   TIME < TMAX:  C = CMAX*EXP(RHO*(TIME-TMAX)), RHO = LOG(FOLDX)/TMAX
;   TIME >= TMAX: C = (1-FB)*CMAX*EXP(-ALPHA*(TIME-TMAX)) + FB*CMAX*EXP(-BETA*(TIME-TMAX))
; Data: cart-stein.csv, simulated by Scripts/nlme/simulate_stein.py --seed 1 --subjects 60.
; DV = LOG(copies/ug); CENS=1 marks a value below the assay limit (100 copies/ug), DV = LOG(100).
$INPUT ID TIME DV MDV EVID AMT CMT CENS NTIME=DROP
$DATA cart-stein.csv IGNORE=@

$PRED
CMAX = THETA(1)*EXP(ETA(1))
TMAX = THETA(2)
FOLDX = THETA(3)
ALPHA = THETA(4)*EXP(ETA(2))
FB = THETA(5)*EXP(ETA(3))
BETA = THETA(6)
RHO = LOG(FOLDX)/TMAX
IF (TIME.LT.TMAX) THEN
  IPRED = CMAX*EXP(RHO*(TIME-TMAX))
ELSE
  IPRED = (1-FB)*CMAX*EXP(-ALPHA*(TIME-TMAX)) + FB*CMAX*EXP(-BETA*(TIME-TMAX))
ENDIF
Y = LOG(IPRED) + EPS(1)

; True values (Stein et al. 2019 Table 1 via ../shared/reference/car-t-models.md section 1.1):
; CMAX 24000 copies/ug, TMAX 9.3 d, FOLDX 3900, ALPHA 0.16 /d, FB 0.0079, BETA 0.0032 /d,
; residual SD 0.56 on the log scale (SIGMA 0.3136). IIV (design choice, Scripts/nlme/simulate_stein.py):
; OMEGA 0.65 on CMAX (Stein's value), 0.4 on ALPHA and 0.5 on FB (Stein: 0.91, 0.80).
; Initial estimates are the true values multiplied or divided by 1.3.
$THETA
(0, 31200)       ; 1 CMAX  true 24000 (x1.3)
9.3 FIX          ; 2 TMAX  true 9.3, fixed (see below)
(1, 3000)        ; 3 FOLDX true 3900 (/1.3)
(0, 0.21)        ; 4 ALPHA true 0.16 (x1.3)
(0, 0.0061, 1)   ; 5 FB    true 0.0079 (/1.3)
(0, 0.0042)      ; 6 BETA  true 0.0032 (x1.3)
$OMEGA
0.5    ; IIV CMAX  true 0.65 (/1.3)
0.52   ; IIV ALPHA true 0.4 (x1.3)
0.38   ; IIV FB    true 0.5 (/1.3)
$SIGMA
0.41   ; residual variance on the log scale, true 0.3136 = 0.56^2 (x1.3)

$ESTIMATION METHOD=COND LAPLACIAN INTERACTION MAXEVAL=9999
$COVARIANCE
