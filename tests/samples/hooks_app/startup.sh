echo "this startup script is broken"
exit 7
