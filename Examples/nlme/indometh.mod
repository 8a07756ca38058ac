$PROBLEM Indomethacin after an IV bolus: biexponential (Pinheiro & Bates 2000, section 6.2)
; The nlme model fm2Indom.nlme written as a control stream: random effects on A1, lrc1, A2
; (diagonal), additive error. With additive error FOCE and FOCE-I are the same objective.
$INPUT ID TIME DV
$DATA indometh.csv IGNORE=@
$PRED
A1 = THETA(1) + ETA(1)
LRC1 = THETA(2) + ETA(2)
A2 = THETA(3) + ETA(3)
LRC2 = THETA(4)
IPRED = A1*EXP(-EXP(LRC1)*TIME) + A2*EXP(-EXP(LRC2)*TIME)
Y = IPRED + EPS(1)
; Initial estimates: the nlme ML estimates, rounded (../shared/estimation/indometh).
$THETA 2.83 0.773 0.461 -1.345
$OMEGA 0.3264 0.0250 0.01244
$SIGMA 0.006642
$ESTIMATION METHOD=1 INTERACTION MAXEVAL=9999
$COVARIANCE
