echo "compiling assets"
npm run build
